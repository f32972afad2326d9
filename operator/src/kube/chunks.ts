// Text cut out of a byte stream that arrives in chunks (a watch's lines, a list's items).

/**
 * A piece of text that may begin in one chunk and end in a later one: the bytes of the earlier
 * chunks are kept as views and joined once, when the piece ends, so no string grows chunk by
 * chunk. Cutting by byte is safe for UTF-8 when the bounds are ASCII characters (a newline, a
 * brace): they never occur inside a multi-byte sequence.
 */
export class ChunkedText {
  private readonly pieces: Buffer[] = [];

  /** Keeps chunk[from..] as the beginning of a piece that goes on in the next chunk. */
  carry(chunk: Buffer, from: number): void {
    if (from < chunk.length) this.pieces.push(chunk.subarray(from));
  }

  /** The piece that ends before chunk[to]: chunk[from..to] after what was carried. */
  take(chunk: Buffer, from: number, to: number): string {
    if (this.pieces.length === 0) return chunk.toString('utf8', from, to);
    this.pieces.push(chunk.subarray(from, to));
    const text = Buffer.concat(this.pieces).toString('utf8');
    this.pieces.length = 0;
    return text;
  }
}
