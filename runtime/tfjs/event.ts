// The event-time layer classes of nmc's model.json (written by `nmc import event-ssm`; docs/model-math.md,
// "Event-time SSMs"), so that such a model.json loads and saves in TensorFlow.js too:
//
//   EventPooling  {stride k ≥ 2, mode last | avgpool | timepool}: groups of k steps into one (event-ssm
//                 layers.py EventPooling); last keeps each group's FIRST step, avgpool the mean; timepool
//                 weighs by each event's time step, which a one-input tfjs layer is not given (call() refuses).
//   EventReadout  {mode pool | timepool | last}: one value per sequence (event-ssm seq_model.py), [B, T, H] →
//                 [B, H]; last the last step, pool the mean over every step (nmc's engine masks it by the
//                 sequence lengths, which tfjs is not given); timepool refused in call() as above.
//
// nmc's float engine computes all of them with the time steps and lengths of its inputs.
import type * as tfjs from "@tensorflow/tfjs";
import { NmcError } from "../../ir/errors.js";
import { configValue, type Tf } from "./backend.js";

type Tensor = tfjs.Tensor;

function timeRefusal(layer: string, what: string): NmcError {
  return new NmcError(`${layer}: ${what} weighs each event by its time step, which a tfjs layer is not given`, {
    node: layer, hint: "run the model with nmc's float engine: nmc run model.json --input events.npz",
  });
}

/** Builds the EventPooling and EventReadout layer classes against a given tf module (see index.ts). */
export function makeEventLayerClasses(tf: Tf) {
  class EventPooling extends tf.layers.Layer {
    static className = "EventPooling";
    readonly stride: number;
    readonly mode: string;

    constructor(args: Record<string, unknown>) {
      super(args as ConstructorParameters<typeof tf.layers.Layer>[0]);
      this.stride = configValue<number>(args, "stride", "stride", NaN);
      this.mode = configValue<string>(args, "mode", "mode", "last");
      if (!Number.isInteger(this.stride) || this.stride < 2) {
        throw new NmcError("EventPooling stride must be an integer ≥ 2", { node: this.name, path: "config.stride", expected: "an integer ≥ 2", found: String(this.stride) });
      }
      if (!["last", "avgpool", "timepool"].includes(this.mode)) {
        throw new NmcError("unknown EventPooling mode", { node: this.name, path: "config.mode", expected: '"last", "avgpool" or "timepool"', found: JSON.stringify(this.mode) });
      }
    }

    override computeOutputShape(inputShape: tfjs.Shape | tfjs.Shape[]): tfjs.Shape {
      const s = (Array.isArray(inputShape[0]) ? inputShape[0] : inputShape) as tfjs.Shape;
      return [s[0], s[1] == null ? null : Math.floor(s[1] / this.stride), s[2]];
    }

    override call(inputs: Tensor | Tensor[]): Tensor {
      const x = Array.isArray(inputs) ? inputs[0]! : inputs;
      if (this.mode === "timepool") throw timeRefusal(this.name, "EventPooling timepool");
      return tf.tidy(() => {
        const [B, T, H] = x.shape as [number, number, number];
        const n = Math.floor(T / this.stride);
        const groups = tf.reshape(tf.slice(x, [0, 0, 0], [B, n * this.stride, H]), [B, n, this.stride, H]);
        return this.mode === "last"
          ? tf.reshape(tf.slice(groups, [0, 0, 0, 0], [B, n, 1, H]), [B, n, H])
          : tf.mean(groups, 2);
      });
    }

    override getConfig(): tfjs.serialization.ConfigDict {
      return { ...super.getConfig(), stride: this.stride, mode: this.mode };
    }
  }

  class EventReadout extends tf.layers.Layer {
    static className = "EventReadout";
    readonly mode: string;

    constructor(args: Record<string, unknown>) {
      super(args as ConstructorParameters<typeof tf.layers.Layer>[0]);
      this.mode = configValue<string>(args, "mode", "mode", "pool");
      if (!["pool", "timepool", "last"].includes(this.mode)) {
        throw new NmcError("unknown EventReadout mode", { node: this.name, path: "config.mode", expected: '"pool", "timepool" or "last"', found: JSON.stringify(this.mode) });
      }
    }

    override computeOutputShape(inputShape: tfjs.Shape | tfjs.Shape[]): tfjs.Shape {
      const s = (Array.isArray(inputShape[0]) ? inputShape[0] : inputShape) as tfjs.Shape;
      return [s[0], s[2]];
    }

    override call(inputs: Tensor | Tensor[]): Tensor {
      const x = Array.isArray(inputs) ? inputs[0]! : inputs;
      if (this.mode === "timepool") throw timeRefusal(this.name, "the timepool readout");
      return tf.tidy(() => {
        const [B, T, H] = x.shape as [number, number, number];
        return this.mode === "last" ? tf.reshape(tf.slice(x, [0, T - 1, 0], [B, 1, H]), [B, H]) : tf.mean(x, 1);
      });
    }

    override getConfig(): tfjs.serialization.ConfigDict {
      return { ...super.getConfig(), mode: this.mode };
    }
  }

  return { EventPooling, EventReadout };
}

export type EventLayerClasses = ReturnType<typeof makeEventLayerClasses>;
