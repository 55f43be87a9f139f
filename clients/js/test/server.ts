// Starts a real parleyd for a test: a fresh temp data dir and a free port
// (port 0: parleyd picks one and announces it), with restart on the same
// data dir and port.

import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { createInterface } from "node:readline";

/** clients/js, where `npm test` runs. */
export const PACKAGE_DIR = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");
export const PARLEYD = resolve(PACKAGE_DIR, process.env.PARLEYD ?? "../../build/release/parleyd");

// Cheap password hashing, no per-connection limit in the way, and groups of
// users who are not friends (parleyd's default lets only friends add each
// other to rooms; these tests are about the client, not that rule).
const ARGS = [
  "--pwhash-limits", "min", "--threads", "2", "--rate-limit", "100000", "--rate-burst", "100000",
  "--room-add", "anyone",
];

export class TestServer {
  readonly dataDir = mkdtempSync(join(tmpdir(), "parley-js-"));
  port = 0;
  private proc: ChildProcess | undefined;
  private stderr = "";

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Starts parleyd and resolves once it announces its port. */
  async start(): Promise<this> {
    const proc = spawn(PARLEYD, ["--listen", `127.0.0.1:${this.port}`, "--data-dir", this.dataDir, ...ARGS], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    this.proc = proc;
    proc.stderr!.on("data", (d: Buffer) => {
      this.stderr = (this.stderr + d.toString()).slice(-4000);
    });
    const lines = createInterface({ input: proc.stdout! });
    this.port = await new Promise<number>((resolvePort, reject) => {
      const timer = setTimeout(() => reject(new Error(`parleyd did not start in 20 s: ${this.stderr}`)), 20000);
      proc.once("error", (err) => {
        clearTimeout(timer);
        reject(err);
      });
      proc.once("exit", (code) => {
        clearTimeout(timer);
        reject(new Error(`parleyd exited with ${code}: ${this.stderr}`));
      });
      lines.on("line", (line) => {
        const m = /^parleyd listening on 127\.0\.0\.1:(\d+)$/.exec(line);
        if (m) {
          clearTimeout(timer);
          resolvePort(Number(m[1]));
        }
      });
    });
    return this;
  }

  /** SIGKILL: a crash, no draining. */
  async kill(): Promise<void> {
    const proc = this.proc;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    const exited = new Promise((r) => proc.once("exit", r));
    proc.kill("SIGKILL");
    await exited;
  }

  /** Starts again on the same data dir and port (retrying while the port is not free yet). */
  async restart(): Promise<this> {
    let last: unknown;
    for (let i = 0; i < 20; i++) {
      try {
        return await this.start();
      } catch (err) {
        last = err;
        await new Promise((r) => setTimeout(r, 250));
      }
    }
    throw last;
  }

  async stop(): Promise<void> {
    await this.kill();
    rmSync(this.dataDir, { recursive: true, force: true });
  }
}
