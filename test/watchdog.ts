// Loaded into every test file's process (`--import`, test/run.ts). Once the file's last test and its
// hooks are done, the process has a minute to end by itself; if a server, socket, timer or child
// process a test left open still holds it, the watchdog names them and ends it with a failure. Without
// it, a test that failed before registering its cleanup kept its file's process alive until CI's
// deadline (toxiproxy's port taken, in watches.test.ts: 86 minutes), and every later file was
// cancelled. The runner's --test-force-exit would end the file too, but without a word, and in the
// runner's own process it cuts the global teardown short (the cluster would stay up).
import { after } from 'node:test';

const GRACE_MS = Number(process.env.MODELSHIP_TEST_EXIT_GRACE_MS ?? 60_000);

// Node loads it into each test file's process, not into the runner's (which runs the global teardown).
after(() => {
  setTimeout(() => {
    process.stderr.write(`[watchdog] this test file's process is still running ${GRACE_MS / 1000} s after its last test, held by: ${process.getActiveResourcesInfo().join(', ')}\n`);
    process.exit(1);
  }, GRACE_MS).unref();
});
