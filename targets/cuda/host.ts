// The host side of the generated program: loading params.bin onto the device, allocating and zeroing the
// per-sequence buffers, the tick loop (every population's launches in graph order, then recording and the
// delay-1 copies), counters.json, and main, which reads input.npy, runs it chunk by chunk and writes the
// results. Only the launches of a population's own step depend on its kind, through its CUDA_OPS row.
import type { Emission } from "./emission.js";
import type { PopInfo } from "./plan.js";
import { PARAM_KIND_CODE } from "./params.js";
import { cString, KIND_CTYPE, show } from "./writer.js";

export function writeLoadParams(e: Emission): void {
  const { w } = e;
  e.comment("Reads params.bin (targets/cuda/params.ts) and uploads every tensor, in file order.");
  w.write("static void nmc_load_params(const char* path)").block(() => {
    w.writeLine("nmc_params P;");
    w.writeLine(`nmc_params_open(&P, path, ${e.int ? 0 : 1}u, NMC_LAYOUT_HASH, NMC_PARAM_COUNT);`);
    for (const t of e.plan.layout) {
      const ct = KIND_CTYPE[t.kind];
      const n = t.data.length;
      w.writeLine(`d_${t.symbol} = (${ct}*)nmc_upload(nmc_params_next(&P, ${PARAM_KIND_CODE[t.kind]}u, ${n}ULL, ${cString(t.symbol)}), ${n}ULL * sizeof(${ct}));`);
    }
    w.writeLine("nmc_params_close(&P);");
  });
  w.blankLine();
}

export function writeAllocReset(e: Emission): void {
  const { w } = e;
  const buffers = e.plan.buffers;
  w.write("static void nmc_alloc_state(long long nbmax)").block(() => {
    for (const b of buffers) w.writeLine(`d_${b.sym} = (${b.ctype}*)nmc_device_alloc((size_t)nbmax * ${b.perSeq}ULL * sizeof(${b.ctype}));`);
    w.writeLine("d_counters = (unsigned long long*)nmc_device_alloc(NMC_COUNTER_COUNT * sizeof(unsigned long long));");
  });
  w.blankLine();
  e.comment("Zeroes outputs, event lists, states and sums: every sequence starts from rest.");
  w.write("static void nmc_reset_state(long long nbmax)").block(() => {
    for (const b of buffers) w.writeLine(`NMC_CHECK(cudaMemset(d_${b.sym}, 0, (size_t)nbmax * ${b.perSeq}ULL * sizeof(${b.ctype})));`);
  });
  w.blankLine();
}

/** The port stage's launches: load_ports, each incoming projection, saturate_ports (int). */
function launchPortStage(e: Emission, p: PopInfo): void {
  if (p.ports.length) {
    const maxW = Math.max(...p.ports.map((q) => q.width));
    const a: string[] = [];
    for (const q of p.ports) {
      a.push(`d_${q.sym}`);
      if (q.bias) a.push(`d_${q.bias}`);
    }
    e.launch(`${p.sym}__load_ports`, `${maxW}`, a);
  }
  for (const j of p.incoming) {
    const js = j.sym;
    const csr = [...e.eventArgs(j.src, j.proj.delay), `d_${js}_row_ptr`, `d_${js}_col_idx`, `d_${js}_values`];
    if (e.int) {
      e.launch(`${js}__accumulate`, `${j.proj.rows}`, [...csr, `d_${js}_acc`, "d_counters"]);
      e.launch(`${js}__requantize`, `${j.proj.cols}`, [`d_${js}_acc`, `d_${js}_mult`, `d_${js}_shift`, `d_${j.port.sym}`]);
    } else {
      e.launch(`${js}__accumulate`, `${j.proj.rows}`, [...csr, `d_${j.port.sym}`, "d_counters"]);
    }
  }
  if (e.int && p.ports.length) e.launch(`${p.sym}__saturate_ports`, `${Math.max(...p.ports.map((q) => q.width))}`, p.ports.map((q) => `d_${q.sym}`));
}

/** After every population has stepped: the event record, the model output, the delay-1 copies. */
function launchRecordAdvance(e: Emission): void {
  const { w } = e;
  const { pops, outPop } = e.plan;
  e.comment("record: every population's output (events.npy) and the model output");
  const rec = e.int ? "nmc_record_i32" : "nmc_record_f64";
  if (e.int) {
    w.write("if (nmc_record_events)").block(() => {
      for (const p of pops) {
        e.launch("nmc_record_i32", `${p.size}`, [`d_${p.sym}_out`, `${p.size}`, "d_events", "nmc_T * NMC_TOTAL_UNITS", `(long long)t * NMC_TOTAL_UNITS + ${p.offset}`]);
      }
    });
  }
  if (!outPop.perSequence) {
    const K = outPop.size;
    if (!e.plan.time) e.launch(rec, `${K}`, [`d_${outPop.sym}_out`, `${K}`, "d_y", "nmc_T * NMC_OUTPUT_UNITS", "(long long)t * NMC_OUTPUT_UNITS"]);
    else {
      // row (t + 1) / R − 1 of floor(T / R) at the output's emissions
      e.gated(outPop.outRate, () => e.launch(rec, `${K}`, [`d_${outPop.sym}_out`, `${K}`, "d_y", "(nmc_T / NMC_OUTPUT_RATE) * NMC_OUTPUT_UNITS", "((long long)(t + 1) / NMC_OUTPUT_RATE - 1) * NMC_OUTPUT_UNITS"]));
    }
  }
  const adv = pops.filter((p) => p.needsPrev);
  if (adv.length) e.comment(e.plan.time ? "advance: at each population's emissions, copies of its output for the delay-1 projections of its next step"
    : "advance: copies of this tick's outputs for the delay-1 projections of the next tick");
  for (const p of adv) e.gated(p.outRate, () => e.launch(`${p.sym}__advance`, `${p.size}`, [...e.eventArgs(p, 0), ...e.eventArgs(p, 1)]));
}

export function writeTick(e: Emission): void {
  const { w } = e;
  const { outPop } = e.plan;
  e.comment("One tick of every sequence of the chunk (nb sequences, tick t): populations in graph order.");
  w.write("static void nmc_tick(int nb, int t)").block(() => {
    for (const p of e.plan.pops) {
      if (!e.plan.time) {
        e.comment(`population ${show(p.pop.name)} (${p.pop.kind})`);
        if (p.op.receives) launchPortStage(e, p);
        (e.int ? p.op.int : p.op.float).launch(e, p);
        e.launchPerSequence(`${p.sym}__compact`, [`d_${p.sym}_out`, `d_${p.sym}_ev_idx`, `d_${p.sym}_ev_cnt`, "d_counters"]);
        continue;
      }
      e.comment(`population ${show(p.pop.name)} (${p.pop.kind}): steps once every ${p.rate} tick(s), emits once every ${p.outRate}`);
      e.gated(p.rate, () => {
        if (p.rate > 1) w.writeLine(`const int st = (t + 1) / ${p.rate} - 1; // its step index`);
        e.step = p.rate > 1 ? "st" : "t";
        if (p.op.receives) launchPortStage(e, p);
        if (p.usesTime) {
          e.launchPerSequence("nmc_group_time", ["d_x", "nmc_T", "(long long)t", `${p.rate}`, "NMC_INPUT_CHANNELS", "NMC_DATA_CHANNELS", `d_${p.sym}_time`]);
        }
        (e.int ? p.op.int : p.op.float).launch(e, p);
        e.step = "t";
        // Events (counted, listed for the projections it feeds) only at its emissions.
        e.gated(p.outRate / p.rate > 1 ? p.outRate : 1, () => e.launchPerSequence(`${p.sym}__compact`, [`d_${p.sym}_out`, `d_${p.sym}_ev_idx`, `d_${p.sym}_ev_cnt`, "d_counters"]));
      });
    }
    launchRecordAdvance(e);
  });
  w.blankLine();
  w.write("static void nmc_record_output_final(int nb)").block(() => {
    if (outPop.perSequence) {
      const K = outPop.size;
      e.launch(e.int ? "nmc_record_i32" : "nmc_record_f64", `${K}`, [`d_${outPop.sym}_out`, `${K}`, "d_y", "NMC_OUTPUT_UNITS", "0LL"]);
    } else {
      w.writeLine("(void)nb;");
    }
  });
  w.blankLine();
}

/** The C expression of a population's steps (or emissions) in the run: every tick, or B · floor(T / R) in a timed program. */
function stepsOf(e: Emission, every: number): string {
  return !e.plan.time ? "ticks" : every === 1 ? "ticks" : `((unsigned long long)B * (unsigned long long)(T / ${every}))`;
}

export function writeCountersJson(e: Emission): void {
  const { w } = e;
  const { pops, projs } = e.plan;
  e.comment("counters.json: runtime/float/counters.ts RunCounters (dense, weight-only and unit-ticks follow from the sizes).");
  w.write("static void nmc_write_counters(const char* dir, const unsigned long long* c, long long B, long long T)").block(() => {
    w.writeLine("char path[4096];");
    w.writeLine("snprintf(path, sizeof path, \"%s/counters.json\", dir);");
    w.writeLine("FILE* f = fopen(path, \"wb\");");
    w.writeLine("if (!f) nmc_fail(1, \"cannot write\", path);");
    w.writeLine("const unsigned long long ticks = (unsigned long long)B * (unsigned long long)T;");
    w.writeLine("fprintf(f, \"{\\\"samples\\\": %lld, \\\"ticks\\\": %llu, \\\"populations\\\": {\", B, ticks);");
    pops.forEach((p, k) => {
      const head = `${k ? ", " : ""}${JSON.stringify(p.pop.name)}: {"kind": ${JSON.stringify(p.pop.kind)}, "size": ${p.size}, "events": `;
      w.writeLine(`fputs(${cString(head)}, f);`);
      w.writeLine(`fprintf(f, "%llu, \\"unitTicks\\": %llu}", c[${p.index}], ${p.size}ULL * ${stepsOf(e, p.outRate)});`);
    });
    w.writeLine("fputs(\"}, \\\"projections\\\": {\", f);");
    projs.forEach((j, k) => {
      const pj = j.proj;
      const nnz = pj.weights.colIdx.length;
      const head = `${k ? ", " : ""}${JSON.stringify(pj.name)}: {"source": ${JSON.stringify(pj.source)}, "target": ${JSON.stringify(pj.target)}, "rows": ${pj.rows}, "cols": ${pj.cols}, "nnz": ${nnz}, "dense": `;
      const eff = pops.length + 2 * j.index;
      w.writeLine(`fputs(${cString(head)}, f);`);
      const steps = stepsOf(e, e.population(pj.target).rate);
      w.writeLine(`fprintf(f, "%llu, \\"effective\\": %llu, \\"activityOnly\\": %llu, \\"weightOnly\\": %llu}", ${pj.rows * pj.cols}ULL * ${steps}, c[${eff}], c[${eff + 1}], ${nnz}ULL * ${steps});`);
    });
    w.writeLine("fputs(\"}}\\n\", f);");
    w.writeLine("if (fclose(f) != 0) nmc_fail(1, \"cannot write\", path);");
  });
  w.blankLine();
}

/** main's arguments: the usage line, --no-events and --chunk N. */
function writeArguments(e: Emission): void {
  const { w } = e;
  w.writeLine("nmc_check_host();");
  w.write("if (argc < 4)").block(() => {
    w.writeLine("fprintf(stderr, \"usage: %s <params.bin> <input.npy> <out_dir> [--no-events] [--chunk N]\\n\", argv[0]);");
    w.writeLine("return 2;");
  });
  w.writeLine(`nmc_record_events = ${e.int ? 1 : 0};`);
  w.writeLine("long long chunk = 4096;");
  w.write("for (int a = 4; a < argc; ++a)").block(() => {
    w.writeLine("if (strcmp(argv[a], \"--no-events\") == 0) nmc_record_events = 0;");
    w.writeLine("else if (strcmp(argv[a], \"--chunk\") == 0 && a + 1 < argc && atoll(argv[a + 1]) >= 1 && atoll(argv[a + 1]) <= 4096) chunk = atoll(argv[++a]);");
    w.writeLine("else { fprintf(stderr, \"nmc-cuda: unknown option %s\\n\", argv[a]); return 2; }");
  });
}

/** The chunk loop: each chunk's input up, the ticks, the results down. */
function writeChunkLoop(e: Emission): void {
  const { w, V } = e;
  w.write("for (long long b0 = 0; b0 < B; b0 += nbmax)").block(() => {
    w.writeLine("const int nb = (int)(B - b0 < nbmax ? B - b0 : nbmax);");
    w.writeLine(`if (T * C > 0) NMC_CHECK(cudaMemcpy(d_x, hx + b0 * T * C, (size_t)(nb * T * C) * sizeof(${V}), cudaMemcpyHostToDevice));`);
    w.writeLine("nmc_reset_state(nbmax);");
    w.writeLine(`NMC_CHECK(cudaMemset(d_y, 0, (size_t)(nbmax * ystep) * sizeof(${V})));`);
    w.writeLine("for (long long t = 0; t < T; ++t) nmc_tick(nb, (int)t);");
    w.writeLine("if (T > 0) nmc_record_output_final(nb);");
    w.writeLine("NMC_CHECK(cudaDeviceSynchronize());");
    w.writeLine(`NMC_CHECK(cudaMemcpy(hy + b0 * ystep, d_y, (size_t)(nb * ystep) * sizeof(${V}), cudaMemcpyDeviceToHost));`);
    w.writeLine("if (nmc_record_events && per > 0) NMC_CHECK(cudaMemcpy(hev + b0 * per, d_events, (size_t)(nb * per) * sizeof(int32_t), cudaMemcpyDeviceToHost));");
  });
}

export function writeMain(e: Emission): void {
  const { w, V } = e;
  const descr = e.int ? "<i4" : "<f8";
  e.comment(
    "prog <params.bin> <input.npy> <out_dir> [--no-events] [--chunk N]   (N: sequences run side by side, 1 to 4096)",
    `input.npy: ${e.int ? "int32 (<i4) quantized inputs (runtime/golden quantizeInputs; token ids for a token input)" : "float64 (<f8) inputs (token ids for a token input)"} [B, T, C]${e.plan.time ? "," : ""}`,
    ...(e.plan.time ? ["  C = the model's channels + 2: Δt in quanta of 2^-dt_frac (runtime/golden quantizeTime), then the sequence's length"] : []),
    `writes out_dir/output.npy (${e.int ? "int32 outputQ" : "float64 output"}; [B, T, K], or [B, K] for a Readout output),`,
    e.int ? "out_dir/events.npy (int32 [B, T, total units]: every population's output every tick, graph order) and out_dir/counters.json"
      : "and out_dir/counters.json",
  );
  // A timed program's per-tick output has a row per emission of the output population: floor(T / its rate).
  const rows = e.plan.time ? "(T / NMC_OUTPUT_RATE)" : "T";
  w.write("int main(int argc, char** argv)").block(() => {
    writeArguments(e);
    w.writeLine("nmc_init_device();");
    w.writeLine("nmc_load_params(argv[1]);");
    w.writeLine("nmc_npy x;");
    w.writeLine(`nmc_read_npy(argv[2], "${descr}", sizeof(${V}), &x);`);
    w.write("if (x.ndim != 3 || x.shape[2] != NMC_INPUT_CHANNELS)").block(() => {
      w.writeLine("fprintf(stderr, \"nmc-cuda: %s: expected an input of shape [B, T, %lld]\\n\", argv[2], NMC_INPUT_CHANNELS);");
      w.writeLine("return 2;");
    });
    w.writeLine("const long long B = x.shape[0], T = x.shape[1], C = x.shape[2];");
    w.writeLine("nmc_T = T;");
    e.comment("sequences per chunk: at most --chunk (default and limit 4096 grid rows), and the chunk's event record below 2^26 values");
    w.writeLine("long long nbmax = B < chunk ? B : chunk;");
    w.writeLine("const long long per = T * NMC_TOTAL_UNITS;");
    w.writeLine("if (nmc_record_events && per > 0 && nbmax > (1LL << 26) / per) nbmax = (1LL << 26) / per;");
    w.writeLine("if (nbmax < 1) nbmax = 1;");
    w.writeLine("nmc_alloc_state(nbmax);");
    w.writeLine(`d_x = (${V}*)nmc_device_alloc((size_t)(nbmax * T * C) * sizeof(${V}));`);
    w.writeLine(`const long long ystep = NMC_OUTPUT_READOUT ? NMC_OUTPUT_UNITS : ${rows} * NMC_OUTPUT_UNITS;`);
    w.writeLine(`d_y = (${V}*)nmc_device_alloc((size_t)(nbmax * ystep) * sizeof(${V}));`);
    w.writeLine("if (nmc_record_events) d_events = (int32_t*)nmc_device_alloc((size_t)(nbmax * per) * sizeof(int32_t));");
    w.writeLine(`${V}* hy = (${V}*)calloc((size_t)(B * ystep) + 1, sizeof(${V}));`);
    w.writeLine("int32_t* hev = nmc_record_events ? (int32_t*)calloc((size_t)(B * per) + 1, sizeof(int32_t)) : 0;");
    w.writeLine("if (!hy || (nmc_record_events && !hev)) nmc_fail(1, \"out of host memory for the results\", 0);");
    w.writeLine(`const ${V}* hx = (const ${V}*)x.data;`);
    writeChunkLoop(e);
    w.writeLine("unsigned long long hc[NMC_COUNTER_COUNT];");
    w.writeLine("NMC_CHECK(cudaMemcpy(hc, d_counters, sizeof hc, cudaMemcpyDeviceToHost));");
    w.writeLine(`const long long yshape[3] = { B, NMC_OUTPUT_READOUT ? NMC_OUTPUT_UNITS : ${rows}, NMC_OUTPUT_UNITS };`);
    w.writeLine(`nmc_write_npy(argv[3], "output.npy", "${descr}", yshape, NMC_OUTPUT_READOUT ? 2 : 3, hy, (size_t)(B * ystep) * sizeof(${V}));`);
    w.write("if (nmc_record_events)").block(() => {
      w.writeLine("const long long eshape[3] = { B, T, NMC_TOTAL_UNITS };");
      w.writeLine("nmc_write_npy(argv[3], \"events.npy\", \"<i4\", eshape, 3, hev, (size_t)(B * per) * sizeof(int32_t));");
    });
    w.writeLine("nmc_write_counters(argv[3], hc, B, T);");
    w.writeLine("free(hy);");
    w.writeLine("free(hev);");
    w.writeLine("free(x.file);");
    w.writeLine("nmc_free_all();");
    w.writeLine("printf(\"nmc-cuda: done: %lld sequences x %lld ticks\\n\", B, T);");
    w.writeLine("return 0;");
  });
}
