@_spi(Engine) public import SwannCore
import SystemPackage

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Writes vector and neighbour files in any format Swann reads.
///
/// A file is written to a temporary sibling and renamed into place once complete, so a reader
/// never sees a half-written file under the final name.
public enum VectorFileWriter {
    /// Writes `matrix` to `path`.
    /// - Parameter format: by default taken from the extension.
    /// - Throws: `VectorFileError` if the format cannot hold the matrix's element type (float16
    ///   has only `.npy`) or the file cannot be written.
    public static func write(_ matrix: VectorMatrix, to path: String, format: VectorFileFormat? = nil) throws(VectorFileError) {
        let format = try resolve(format, path: path)
        let scalar = FileScalar(matrix.elementType)
        guard format == .npy || format.impliedScalar == scalar else {
            throw VectorFileError(
                .wrongScalarType,
                path: path,
                expected: "\(format.impliedScalar!) components for .\(format)",
                found: "\(scalar) (use .npy, or the matching extension)"
            )
        }
        try atomically(path) { file throws(VectorFileError) in
            try writeHeader(file, format: format, scalar: scalar, count: matrix.count, dimension: matrix.dimension)
            if format.hasRowPrefix {
                var prefixed = [UInt8](repeating: 0, count: 4 + matrix.rowBytes)
                for row in 0..<matrix.count {
                    prefixed.withUnsafeMutableBytes { buffer in
                        buffer.storeBytes(of: Int32(matrix.dimension).littleEndian, as: Int32.self)
                        buffer.baseAddress!.advanced(by: 4).copyMemory(from: matrix.row(row), byteCount: matrix.rowBytes)
                    }
                    try file.write(prefixed)
                }
            } else {
                try file.write(matrix.rawBytes)
            }
        }
    }

    /// Writes a neighbour table (ground truth or search results) as int32 ids.
    /// `.ibin` also stores the float32 distances after the ids (the big-ann ground-truth layout).
    /// - Throws: `VectorFileError` for a non-int32 format, an id outside Int32, or a write failure.
    public static func write(_ table: NeighborTable, to path: String, format: VectorFileFormat? = nil) throws(VectorFileError) {
        let format = try resolve(format, path: path)
        guard format == .ivecs || format == .ibin || format == .npy else {
            throw VectorFileError(.wrongScalarType, path: path, expected: "an id format (.ivecs, .ibin, .npy)", found: ".\(format)")
        }
        var ids = [Int32]()
        ids.reserveCapacity(table.ids.count)
        for id in table.ids {
            guard let narrow = Int32(exactly: id) else {
                throw VectorFileError(.outOfRange, path: path, expected: "ids that fit in int32", found: "\(id)")
            }
            ids.append(narrow.littleEndian)
        }
        try atomically(path) { file throws(VectorFileError) in
            try writeHeader(file, format: format, scalar: .int32, count: table.queryCount, dimension: table.k)
            if format == .ivecs {
                for q in 0..<table.queryCount {
                    try file.write([Int32(table.k).littleEndian] + ids[q * table.k..<(q + 1) * table.k])
                }
            } else {
                try file.write(ids)
                if format == .ibin {
                    let distances = table.distances.isEmpty ? [Float](repeating: 0, count: ids.count) : table.distances
                    try file.write(distances)
                }
            }
        }
    }

    private static func resolve(_ format: VectorFileFormat?, path: String) throws(VectorFileError) -> VectorFileFormat {
        guard let format = format ?? VectorFileFormat(path: path) else {
            throw VectorFileError(
                .unknownFormat,
                path: path,
                expected: "an extension among " + VectorFileFormat.allCases.map { "." + $0.rawValue }.joined(separator: " "),
                found: "'\(path)'"
            )
        }
        return format
    }

    private static func writeHeader(
        _ file: OutputFile,
        format: VectorFileFormat,
        scalar: FileScalar,
        count: Int,
        dimension: Int
    ) throws(VectorFileError) {
        switch format {
        case .fbin, .u8bin, .i8bin, .ibin:
            guard let c = UInt32(exactly: count), let d = UInt32(exactly: dimension) else {
                throw VectorFileError(.outOfRange, path: file.path, expected: "count and dimension below 2³²", found: "\(count) × \(dimension)")
            }
            try file.write([c.littleEndian, d.littleEndian])
        case .npy:
            try file.write(Array(numpyHeader(scalar: scalar, count: count, dimension: dimension)))
        case .fvecs, .bvecs, .ivecs:
            break
        }
    }

    /// A version 1.0 header padded so the data starts on a 64-byte boundary.
    static func numpyHeader(scalar: FileScalar, count: Int, dimension: Int) -> [UInt8] {
        let descr =
            switch scalar {
            case .float32: "<f4"
            case .float16: "<f2"
            case .int8: "|i1"
            case .uint8: "|u1"
            case .int32: "<i4"
            case .int64: "<i8"
            case .uint64: "<u8"
            }
        var dict = "{'descr': '\(descr)', 'fortran_order': False, 'shape': (\(count), \(dimension)), }"
        let unpadded = 10 + dict.utf8.count + 1
        dict += String(repeating: " ", count: (64 - unpadded % 64) % 64) + "\n"
        let length = UInt16(dict.utf8.count)
        return [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59, 1, 0, UInt8(length & 0xFF), UInt8(length >> 8)] + Array(dict.utf8)
    }

    private static func atomically(_ path: String, _ body: (OutputFile) throws(VectorFileError) -> Void) throws(VectorFileError) {
        let temporary = "\(path).tmp-\(getpid())"
        let descriptor: FileDescriptor
        do {
            descriptor = try FileDescriptor.open(
                FilePath(temporary),
                .writeOnly,
                options: [.create, .truncate, .closeOnExec],
                permissions: [.ownerReadWrite, .groupRead, .otherRead]
            )
        } catch {
            throw VectorFileError(.cannotOpen, path: path, found: "cannot create \(temporary): \(error)")
        }
        let file = OutputFile(path: path, descriptor: descriptor)
        do {
            try body(file)
            try file.flush()
            try? descriptor.close()
        } catch {
            try? descriptor.close()
            unlink(temporary)
            throw error
        }
        guard rename(temporary, path) == 0 else {
            let reason = String(cString: strerror(errno))
            unlink(temporary)
            throw VectorFileError(.ioFailure, path: path, found: "rename from \(temporary) failed: \(reason)")
        }
    }
}
