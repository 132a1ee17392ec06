// The native binding, loaded by load-binding.js with a clearer load error.
export * from './binding'
