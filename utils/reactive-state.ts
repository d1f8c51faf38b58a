import { reactive, ref } from 'vue'
import type { Ref } from 'vue'

// Vue types `ref<T>()` and `reactive<T>()` with a deep UnwrapRef<T>, which recurses without end on
// the JSON type of tool call input and output (TS2589). Session state holds no nested refs, so
// these helpers keep the plain types; at runtime they are ref() and reactive().

export function stateRef<T>(value: T): Ref<T> {
  return ref(value) as Ref<T>
}

export function reactiveState<T extends object>(value: object): T {
  return reactive(value) as T
}
