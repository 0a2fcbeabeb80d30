// The CUDA renderer table: one row per population kind (ops/types.ts CudaOp says what a row holds). A kind
// missing here is a type error; adding a kind means adding its file and its row.
import type { PopulationKind } from "../../../ir/types.js";
import { DENSE_OP } from "./dense.js";
import { EGRU_OP } from "./egru.js";
import { EVENT_POOLING_OP } from "./event-pooling.js";
import { INPUT_OP } from "./input.js";
import { LAYER_NORM_OP } from "./layernorm.js";
import { MULTIPLY_OP } from "./multiply.js";
import { READOUT_OP } from "./readout.js";
import { SSM_OP } from "./ssm.js";
import type { CudaOp } from "./types.js";

export type { CudaOp, ParamSpec, StepRenderer } from "./types.js";

export const CUDA_OPS: { [K in PopulationKind]: CudaOp<K> } = {
  Input: INPUT_OP,
  EGRU: EGRU_OP,
  DiagonalSSM: SSM_OP,
  Dense: DENSE_OP,
  Readout: READOUT_OP,
  Multiply: MULTIPLY_OP,
  LayerNorm: LAYER_NORM_OP,
  EventPooling: EVENT_POOLING_OP,
};
