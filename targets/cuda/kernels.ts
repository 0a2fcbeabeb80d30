// The kernels of one population, in source order: the port stage shared by every kind that receives
// projections (load_ports, each incoming projection's accumulate and, in the int variant, requantize and
// saturate_ports), the kind's own step from its CUDA_OPS row, then the shared event compaction and, where a
// delay-1 edge reads the population, the advance to the previous-tick copy.
import type { Emission } from "./emission.js";
import type { PopInfo, ProjInfo } from "./plan.js";
import { KERNEL_INDEX, sanitizeLocal, show } from "./writer.js";

export function writePopulationKernels(e: Emission, p: PopInfo): void {
  e.comment(`======== population ${show(p.pop.name)}: ${p.pop.kind} ========`);
  if (p.op.receives) {
    loadPorts(e, p);
    for (const j of p.incoming) projectionKernels(e, j);
    if (e.int) saturatePorts(e, p);
  }
  (e.int ? p.op.int : p.op.float).kernels(e, p);
  compact(e, p);
  if (p.needsPrev) advance(e, p);
}

function loadPorts(e: Emission, p: PopInfo): void {
  const { w } = e;
  if (p.ports.length === 0) return;
  e.header(p, `load the ports (${p.ports.map((q) => `${q.name} [${q.width}]${q.bias ? " ← bias" : " ← 0"}`).join(", ")}), thread per column`);
  const params: string[] = [];
  for (const q of p.ports) {
    params.push(`${e.P}* ${sanitizeLocal(q.name)}`);
    if (q.bias) params.push(`const ${e.num}* bias_${sanitizeLocal(q.name)}`);
  }
  e.kernel(`${p.sym}__load_ports`, params, () => {
    for (const l of KERNEL_INDEX) w.writeLine(l);
    for (const q of p.ports) {
      const n = sanitizeLocal(q.name);
      w.writeLine(`if (i < ${q.width}) ${n}[(long long)b * ${q.width} + i] = ${q.bias ? `bias_${n}[i]` : "0"};`);
    }
  });
}

function saturatePorts(e: Emission, p: PopInfo): void {
  const { w } = e;
  if (p.ports.length === 0) return;
  e.header(p, "port saturation: port = sat32(port) once every projection has arrived, thread per column");
  e.kernel(`${p.sym}__saturate_ports`, p.ports.map((q) => `nmc_i64* ${sanitizeLocal(q.name)}`), () => {
    for (const l of KERNEL_INDEX) w.writeLine(l);
    for (const q of p.ports) {
      const n = sanitizeLocal(q.name);
      w.writeLine(`if (i < ${q.width}) { nmc_i64* v = &${n}[(long long)b * ${q.width} + i]; *v = nmc_sat32(*v); }`);
    }
  });
}

/** Counter slots of a projection: effective synaptic operations, then activity-only ones. */
function counterSlots(e: Emission, j: ProjInfo): { eff: number; act: number } {
  const eff = e.plan.pops.length + 2 * j.index;
  return { eff, act: eff + 1 };
}

function projectionKernels(e: Emission, j: ProjInfo): void {
  const { proj } = j;
  const desc = `projection ${show(proj.name)} (${show(proj.source)} → ${show(proj.target)}.${proj.port}, delay ${proj.delay}, ${proj.rows} × ${proj.cols}, ${proj.weights.colIdx.length} stored)`;
  if (e.int) {
    e.comment(`${desc}: event accumulation, one thread per active source event looping its CSR row;`,
      "exact int64 column sums via atomicAdd on unsigned long long (two's complement: order independent)");
    accumulateKernel(e, j, ["const int32_t* src", "const int32_t* w", "unsigned long long* acc"], "const nmc_i64 x", "unsigned long long* a = acc",
      "atomicAdd(&a[col_idx[k]], (unsigned long long)(x * (nmc_i64)w[k]))");
    e.comment(`${desc}: requantize into the port, thread per column:`,
      `port[j] += rq(sat32(rs(a[j], ${e.plan.pre})), mult[j], shift[j]) where a[j] != 0; a[j] is cleared for the next tick`);
    requantizeKernel(e, j);
  } else {
    e.comment(`${desc}: event accumulation into the port, one thread per active source event looping its CSR row`);
    accumulateKernel(e, j, ["const double* src", "const double* w", "double* port"], "const double x", "double* a = port", "atomicAdd(&a[col_idx[k]], x * w[k])");
  }
}

/**
 * The accumulate kernel, one thread per active source event looping its CSR row; `types` are the source,
 * weight and target parameters, `x` and `target` the declarations of the event value and the sequence's
 * row of the target, `add` the statement that adds one weighted event.
 */
function accumulateKernel(e: Emission, j: ProjInfo, types: [string, string, string], x: string, target: string, add: string): void {
  const { w } = e;
  const { rows, cols } = j.proj;
  const { eff, act } = counterSlots(e, j);
  const [src, weights, out] = types;
  e.kernel(`${j.sym}__accumulate`, [
    src, "const int32_t* ev_idx", "const int32_t* ev_cnt", "const uint32_t* row_ptr", "const uint32_t* col_idx", weights, out, "unsigned long long* counters",
  ], () => {
    w.writeLine("const int b = blockIdx.y;");
    w.writeLine("const int e = blockIdx.x * blockDim.x + threadIdx.x;");
    w.writeLine("const int n = ev_cnt[b];");
    w.writeLine("if (e >= n) return;");
    w.writeLine(`const int row = ev_idx[(long long)b * ${rows} + e];`);
    w.writeLine(`${x} = src[(long long)b * ${rows} + row];`);
    w.writeLine("const uint32_t k0 = row_ptr[row], k1 = row_ptr[row + 1];");
    w.writeLine(`${target} + (long long)b * ${cols};`);
    w.writeLine(`for (uint32_t k = k0; k < k1; ++k) ${add};`);
    w.writeLine(`atomicAdd(&counters[${eff}], (unsigned long long)(k1 - k0));`);
    w.writeLine(`if (e == 0) atomicAdd(&counters[${act}], (unsigned long long)n * ${cols}ULL);`);
  });
}

function requantizeKernel(e: Emission, j: ProjInfo): void {
  const { w } = e;
  const cols = j.proj.cols;
  e.kernel(`${j.sym}__requantize`, ["unsigned long long* acc", "const int32_t* mult", "const int32_t* shift", "nmc_i64* port"], () => {
    w.writeLine("const int b = blockIdx.y;");
    w.writeLine("const int c = blockIdx.x * blockDim.x + threadIdx.x;");
    w.writeLine(`if (c >= ${cols}) return;`);
    w.writeLine(`const long long o = (long long)b * ${cols} + c;`);
    w.writeLine("const nmc_i64 a = (nmc_i64)acc[o];");
    w.writeLine("acc[o] = 0ULL;");
    w.writeLine(`if (a != 0) port[o] += nmc_requantize(nmc_sat32(nmc_round_shift(a, ${e.plan.pre})), mult[c], shift[c]);`);
  });
}

function compact(e: Emission, p: PopInfo): void {
  const { w } = e;
  const S = p.size;
  e.header(p, "event compaction: indices of the non-zero outputs in unit order and their count, one thread per sequence");
  e.kernel(`${p.sym}__compact`, [`const ${e.V}* out`, "int32_t* ev_idx", "int32_t* ev_cnt", "unsigned long long* counters"], () => {
    w.writeLine("const int b = blockIdx.y;");
    w.writeLine("if (blockIdx.x != 0 || threadIdx.x != 0) return;");
    w.writeLine(`const ${e.V}* o = out + (long long)b * ${S};`);
    w.writeLine(`int32_t* idx = ev_idx + (long long)b * ${S};`);
    w.writeLine("int n = 0;");
    w.writeLine(`for (int i = 0; i < ${S}; ++i) if (o[i] != 0) idx[n++] = i;`);
    w.writeLine("ev_cnt[b] = n;");
    w.writeLine(`atomicAdd(&counters[${p.index}], (unsigned long long)n);`);
  });
}

function advance(e: Emission, p: PopInfo): void {
  const { w } = e;
  const S = p.size;
  e.header(p, "advance: this tick's output and event list become the previous tick's (read by delay-1 projections)");
  e.kernel(`${p.sym}__advance`, [`const ${e.V}* out`, "const int32_t* ev_idx", "const int32_t* ev_cnt", `${e.V}* prev`, "int32_t* prev_idx", "int32_t* prev_cnt"], () => {
    for (const l of KERNEL_INDEX) w.writeLine(l);
    w.writeLine(`if (i >= ${S}) return;`);
    w.writeLine(`const long long o = (long long)b * ${S} + i;`);
    w.writeLine("prev[o] = out[o];");
    w.writeLine("prev_idx[o] = ev_idx[o];");
    w.writeLine("if (i == 0) prev_cnt[b] = ev_cnt[b];");
  });
}
