// A LIST answer read as it arrives: each element of its top-level "items" is cut out by byte and
// parsed on its own, and handed on at once, so a page of 500 objects is never held as one string
// nor as 500 decoded objects (the cache keeps only what its transform leaves of each). What is
// not an item (kind, apiVersion, metadata with resourceVersion and continue) is kept as bytes and
// parsed at the end. JSON's structural characters are ASCII and never occur inside a multi-byte
// UTF-8 sequence, so a byte scan that follows strings and escapes finds the items' bounds.
import { ChunkedText } from './chunks.ts';
import { decode } from './decode.ts';

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_OBJECT = 0x7b;
const CLOSE_OBJECT = 0x7d;
const OPEN_ARRAY = 0x5b;
const CLOSE_ARRAY = 0x5d;

/** The bytes kept before a top-level array end with its key: is it "items"? */
const ITEMS_KEY = /[{,]\s*"items"\s*:\s*$/;

export class ListScanner<T> {
  private depth = 0;
  private inString = false;
  private escaped = false;
  /** Inside the top-level "items" array (depth 2 there). */
  private inItems = false;
  /** Where the current item began in the current chunk (0 when it began in an earlier one). */
  private itemStart = -1;
  private readonly item = new ChunkedText();
  private readonly rest: Buffer[] = [];
  private readonly onItem: (item: T) => void;
  private readonly cut: boolean;
  private readonly withoutSpec: boolean;

  /**
   * `cut`: decode each item without its metadata.managedFields (a built-in kind's list: decode.ts);
   * `withoutSpec`: and without its spec but the replicas.
   */
  constructor(onItem: (item: T) => void, cut = false, withoutSpec = false) {
    this.onItem = onItem;
    this.cut = cut;
    this.withoutSpec = withoutSpec;
  }

  /** Reads the next bytes of the answer. */
  push(chunk: Buffer): void {
    // The scan state in locals (written back below): this loop runs over every structural byte of
    // a list, and jumps over the text of strings (four fifths of a list's bytes).
    let { depth, inString, escaped, inItems } = this;
    let restFrom = inItems ? -1 : 0;
    const n = chunk.length;
    for (let i = 0; i < n; i++) {
      if (inString) {
        // The rest of the string in a tight loop: a backslash escapes the byte after it, which
        // may be in the next chunk.
        if (escaped) {
          escaped = false;
          i++;
        }
        while (i < n) {
          const c = chunk[i] as number;
          if (c === QUOTE) break;
          i += c === BACKSLASH ? 2 : 1;
        }
        if (i >= n) {
          escaped = i > n;
          break;
        }
        inString = false;
        continue;
      }
      const b = chunk[i] as number;
      if (b === QUOTE) {
        inString = true;
      } else if (b === OPEN_OBJECT || b === OPEN_ARRAY) {
        depth++;
        if (depth === 2 && b === OPEN_ARRAY && ITEMS_KEY.test(Buffer.concat([...this.rest, chunk.subarray(restFrom, i)]).toString('latin1'))) {
          // The array itself stays in the rest (as "items":[]); its elements do not.
          this.rest.push(chunk.subarray(restFrom, i + 1));
          restFrom = -1;
          inItems = true;
        } else if (inItems && depth === 3) {
          this.itemStart = i;
        }
      } else if (b === CLOSE_OBJECT || b === CLOSE_ARRAY) {
        depth--;
        if (inItems && depth === 2 && b === CLOSE_OBJECT) {
          this.onItem(decode<T>(this.item.take(chunk, this.itemStart, i + 1), this.cut, this.withoutSpec));
          this.itemStart = -1;
        } else if (inItems && depth === 1) {
          inItems = false;
          restFrom = i;
        }
      }
    }
    this.depth = depth;
    this.inString = inString;
    this.escaped = escaped;
    this.inItems = inItems;
    if (this.itemStart >= 0) {
      this.item.carry(chunk, this.itemStart);
      this.itemStart = 0;
    }
    if (restFrom >= 0) this.rest.push(chunk.subarray(restFrom, n));
  }

  /** The answer without its items ({"kind":...,"metadata":{...},"items":[]}), once all is read. */
  end<L>(): L {
    if (this.depth !== 0 || this.inString) throw new SyntaxError('the list answer ended in the middle of its JSON');
    return JSON.parse(Buffer.concat(this.rest).toString('utf8')) as L;
  }
}
