/**
 * Media worker load from the kernel's per-thread accounting: each engine
 * worker is a named thread (`esbc-media-<n>`), so its CPU time is in
 * /proc/self/task/<tid>/stat. Exported as a counter of CPU seconds per worker
 * (load = rate(), like node_cpu_seconds_total); no call into the engine and
 * nothing on the packet path. Linux only; elsewhere the metric stays empty.
 */
import { readdirSync, readFileSync } from 'node:fs';

import { Counter, type Registry } from 'prom-client';

const WORKER = /^esbc-media-(\d+)$/;
/** USER_HZ: clock ticks per second of the utime/stime fields (100 on Linux). */
const TICKS_PER_SECOND = 100;

export interface WorkerCpu {
  worker: string;
  userSeconds: number;
  systemSeconds: number;
}

/** CPU time of each media worker thread of this process. */
export function readWorkerCpu(taskDir = '/proc/self/task'): WorkerCpu[] {
  let tids: string[];
  try {
    tids = readdirSync(taskDir);
  } catch {
    return [];
  }
  const out: WorkerCpu[] = [];
  for (const tid of tids) {
    try {
      const name = WORKER.exec(readFileSync(`${taskDir}/${tid}/comm`, 'utf8').trim());
      if (!name) continue;
      // Fields after the parenthesised comm: state is field 3; utime 14, stime 15.
      const stat = readFileSync(`${taskDir}/${tid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      out.push({ worker: name[1] as string, userSeconds: Number(fields[11]) / TICKS_PER_SECOND, systemSeconds: Number(fields[12]) / TICKS_PER_SECOND });
    } catch {
      /* thread exited between readdir and read */
    }
  }
  return out;
}

export function registerWorkerLoad(registry: Registry): void {
  new Counter({
    name: 'esbc_media_worker_cpu_seconds_total',
    help: 'CPU time of each media engine worker thread, user and kernel (load = rate())',
    labelNames: ['worker', 'mode'],
    registers: [registry],
    collect() {
      this.reset();
      for (const w of readWorkerCpu()) {
        this.inc({ worker: w.worker, mode: 'user' }, w.userSeconds);
        this.inc({ worker: w.worker, mode: 'system' }, w.systemSeconds);
      }
    },
  });
}
