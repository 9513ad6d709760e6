// Array's `withUnsafe…Bytes` rethrow untyped errors; these keep `VectorFileError` typed.

extension Array where Element: BitwiseCopyable {
    func withBytes(_ body: (UnsafeRawBufferPointer) throws(VectorFileError) -> Void) throws(VectorFileError) {
        let result = withUnsafeBytes { bytes in Result { () throws(VectorFileError) in try body(bytes) } }
        try result.get()
    }

    mutating func withMutableBytes(
        _ body: (UnsafeMutableRawBufferPointer) throws(VectorFileError) -> Void
    ) throws(VectorFileError) {
        let result = withUnsafeMutableBytes { bytes in Result { () throws(VectorFileError) in try body(bytes) } }
        try result.get()
    }
}
