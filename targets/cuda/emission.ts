// The writer a model's source is written with: CudaWriter's forms plus what depends on the plan (the
// precision's C types, a population's comment header, its port parameters, the buffers of its events).
// Every renderer (ops/, kernels.ts, host.ts) writes through one Emission.
import type { PopulationKind } from "../../ir/types.js";
import type { CudaPlan, PopInfo } from "./plan.js";
import { CudaWriter, sanitizeLocal, show } from "./writer.js";

export class Emission extends CudaWriter {
  /**
   * The C expression of the population's step index in its launches: the tick `t`, or in a timed program the
   * step of a population of rate R > 1, `st` = (t + 1) / R − 1 (host.ts writeTick sets it).
   */
  step = "t";

  constructor(readonly plan: CudaPlan) {
    super();
  }

  get int(): boolean {
    return this.plan.int;
  }

  /** Value type of outputs, states and inputs. */
  get V(): string {
    return this.plan.V;
  }

  /** Port accumulator type. */
  get P(): string {
    return this.plan.P;
  }

  /** The C type of a numeric parameter tensor (int32 in the int variant, double in float). */
  get num(): string {
    return this.plan.int ? "int32_t" : "double";
  }

  /** The population called `name` (the planner has checked it exists). */
  population(name: string): PopInfo {
    return this.plan.pops.find((q) => q.pop.name === name)!;
  }

  /** `body` under `if ((t + 1) % every == 0)` (as is when every = 1): a timed program's steps and emissions. */
  gated(every: number, body: () => void): void {
    if (every === 1) body();
    else this.w.write(`if ((t + 1) % ${every} == 0)`).block(body);
  }

  /** The comment above each of a population's kernels: its name, kind, size and what the kernel does. */
  header<K extends PopulationKind>(p: PopInfo<K>, what: string): void {
    const detail = p.op.detail(p.pop);
    this.comment(`population ${show(p.pop.name)} (${p.pop.kind}${detail ? ` ${detail}` : ""}, ${p.size} units): ${what}`);
  }

  /** The kernel parameters of a population's ports, read-only, in port order. */
  portParams(p: Pick<PopInfo, "ports">): string[] {
    return p.ports.map((q) => `const ${this.P}* ${sanitizeLocal(q.name)}`);
  }

  /** The device buffers of a population's output and event list: this tick's (delay 0) or the previous tick's copy. */
  eventArgs(p: PopInfo, delay: 0 | 1): string[] {
    return delay === 0 ? [`d_${p.sym}_out`, `d_${p.sym}_ev_idx`, `d_${p.sym}_ev_cnt`] : [`d_${p.sym}_prev`, `d_${p.sym}_prev_idx`, `d_${p.sym}_prev_cnt`];
  }
}
