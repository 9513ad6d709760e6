import SystemPackage

/// A buffered, append-only file that reports errors as `VectorFileError`s naming the final path.
final class OutputFile {
    let path: String
    private let descriptor: FileDescriptor
    private var buffer: [UInt8] = []
    private var written: Int64 = 0
    /// Holds the writes to a budget, when one is set.
    private let pacer: WritePacer?

    init(path: String, descriptor: FileDescriptor, pacer: WritePacer? = nil) {
        self.path = path
        self.descriptor = descriptor
        self.pacer = pacer
        buffer.reserveCapacity(1 << 20)
    }

    func write<T: BitwiseCopyable>(_ values: some Collection<T>) throws(VectorFileError) {
        let array = Array(values)
        try array.withBytes { bytes throws(VectorFileError) in try write(bytes) }
    }

    func write(_ bytes: UnsafeRawBufferPointer) throws(VectorFileError) {
        if buffer.count + bytes.count > 1 << 20 { try flush() }
        if bytes.count >= 1 << 20 {
            try writeThrough(bytes)
        } else {
            buffer.append(contentsOf: bytes)
        }
    }

    func flush() throws(VectorFileError) {
        guard !buffer.isEmpty else { return }
        try buffer.withBytes { bytes throws(VectorFileError) in try writeThrough(bytes) }
        buffer.removeAll(keepingCapacity: true)
    }

    private func writeThrough(_ bytes: UnsafeRawBufferPointer) throws(VectorFileError) {
        do {
            _ = try descriptor.writeAll(bytes)
        } catch {
            throw VectorFileError(.ioFailure, path: path, offset: written, found: "write failed: \(error)")
        }
        written += Int64(bytes.count)
        pacer?.wrote(bytes.count)
    }
}
