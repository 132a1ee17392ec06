// The processor benches/node/processor.mjs times: copies its input to its output.
export default class Copy {
  process(inputs, outputs) {
    for (let c = 0; c < outputs.length; c++) outputs[c].set(inputs[c])
  }
}
