// ONNX TensorProto.DataType numbers <-> Ferry's V2 dtype names. ONNX types with no V2 name
// (BFLOAT16, complex, float8, int4 ...) map to nothing: Ferry can inspect such models but the
// V2 protocol has no way to carry their tensors.
import type { DType } from '../core/tensor.js';

/** TensorProto.DataType values Ferry names; the rest of the enum is listed for messages only. */
export const OnnxDataType = {
  UNDEFINED: 0, FLOAT: 1, UINT8: 2, INT8: 3, UINT16: 4, INT16: 5, INT32: 6, INT64: 7, STRING: 8,
  BOOL: 9, FLOAT16: 10, DOUBLE: 11, UINT32: 12, UINT64: 13, COMPLEX64: 14, COMPLEX128: 15,
  BFLOAT16: 16,
} as const;

export const DTYPE_TO_ONNX: Readonly<Record<DType, number>> = {
  FP32: OnnxDataType.FLOAT,
  UINT8: OnnxDataType.UINT8,
  INT8: OnnxDataType.INT8,
  UINT16: OnnxDataType.UINT16,
  INT16: OnnxDataType.INT16,
  INT32: OnnxDataType.INT32,
  INT64: OnnxDataType.INT64,
  // ONNX STRING tensors hold byte strings, exactly what V2 BYTES carries.
  BYTES: OnnxDataType.STRING,
  BOOL: OnnxDataType.BOOL,
  FP16: OnnxDataType.FLOAT16,
  FP64: OnnxDataType.DOUBLE,
  UINT32: OnnxDataType.UINT32,
  UINT64: OnnxDataType.UINT64,
};

export const ONNX_TO_DTYPE: Readonly<Record<number, DType>> = Object.fromEntries(
  Object.entries(DTYPE_TO_ONNX).map(([dtype, onnx]) => [onnx, dtype as DType]),
);

/** V2 name for an ONNX elem_type, or null when V2 has none (or the number is not a type at all). */
export function dtypeFromOnnx(elemType: number): DType | null {
  return Object.prototype.hasOwnProperty.call(ONNX_TO_DTYPE, elemType) ? ONNX_TO_DTYPE[elemType]! : null;
}

/** Human name for any ONNX elem_type number, for error messages ("BFLOAT16", "type 99"). */
export function onnxTypeName(elemType: number): string {
  const hit = Object.entries(OnnxDataType).find(([, n]) => n === elemType);
  return hit ? hit[0] : `type ${elemType}`;
}
