@_spi(Engine) import SwannCore
import SystemPackage

#if _endian(big)
#error("Swann's file formats are little-endian and it reads them in place; big-endian hosts are not supported")
#endif

/// Reads and validates the header of a vector file.
struct LayoutReader {
    let path: String
    let descriptor: FileDescriptor

    func read(format: VectorFileFormat) throws(VectorFileError) -> VectorFileLayout {
        let size: Int64
        do {
            size = try descriptor.seek(offset: 0, from: .end)
        } catch {
            throw VectorFileError(.ioFailure, path: path, found: "\(error)")
        }
        guard size > 0 else { throw VectorFileError(.empty, path: path, offset: 0, found: "0 bytes") }
        switch format {
        case .fvecs, .bvecs, .ivecs: return try texmex(format: format, size: size)
        case .fbin, .u8bin, .i8bin, .ibin: return try bigANN(format: format, size: size)
        case .npy: return try numpy(size: size)
        }
    }

    private func texmex(format: VectorFileFormat, size: Int64) throws(VectorFileError) -> VectorFileLayout {
        let scalar = format.impliedScalar!
        guard size >= 4 else {
            throw VectorFileError(.truncated, path: path, offset: 0, expected: "a 4-byte dimension", found: "\(size) bytes")
        }
        let dimension = Int(try readInteger(at: 0, as: Int32.self))
        try checkDimension(dimension, at: 0)
        let stride = 4 + dimension * scalar.byteWidth
        guard size % Int64(stride) == 0 else {
            let rows = size / Int64(stride)
            throw VectorFileError(
                .truncated,
                path: path,
                offset: rows * Int64(stride),
                expected: "rows of \(stride) bytes (4 + \(dimension) × \(scalar.byteWidth))",
                found: "\(size % Int64(stride)) bytes left over after \(rows) rows"
            )
        }
        return VectorFileLayout(
            format: format,
            scalar: scalar,
            count: Int(size / Int64(stride)),
            dimension: dimension,
            dataOffset: 0,
            rowStride: stride,
            rowPrefix: 4,
            hasTrailingDistances: false,
            fileSize: size
        )
    }

    private func bigANN(format: VectorFileFormat, size: Int64) throws(VectorFileError) -> VectorFileLayout {
        let scalar = format.impliedScalar!
        guard size >= 8 else {
            throw VectorFileError(
                .truncated,
                path: path,
                offset: 0,
                expected: "an 8-byte header (count, dimension)",
                found: "\(size) bytes"
            )
        }
        let count = Int(try readInteger(at: 0, as: UInt32.self))
        let dimension = Int(try readInteger(at: 4, as: UInt32.self))
        try checkDimension(dimension, at: 4)
        let payload = Int64(count) * Int64(dimension) * Int64(scalar.byteWidth)
        var trailing = false
        if format == .ibin, size == 8 + 2 * payload, payload > 0 {
            trailing = true  // big-ann ground truth: ids, then float32 distances
        } else if size != 8 + payload {
            throw VectorFileError(
                size < 8 + payload ? .truncated : .sizeMismatch,
                path: path,
                offset: min(size, 8 + payload),
                expected: "\(8 + payload) bytes for \(count) × \(dimension) \(scalar)",
                found: "\(size) bytes"
            )
        }
        return VectorFileLayout(
            format: format,
            scalar: scalar,
            count: count,
            dimension: dimension,
            dataOffset: 8,
            rowStride: dimension * scalar.byteWidth,
            rowPrefix: 0,
            hasTrailingDistances: trailing,
            fileSize: size
        )
    }

    private func numpy(size: Int64) throws(VectorFileError) -> VectorFileLayout {
        guard size >= 10 else {
            throw VectorFileError(.truncated, path: path, offset: 0, expected: "a NumPy header", found: "\(size) bytes")
        }
        var prefix = [UInt8](repeating: 0, count: 12)
        try read(at: 0, into: &prefix, count: Int(min(12, size)))
        guard prefix[0..<6] == [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59] else {
            throw VectorFileError(
                .badHeader,
                path: path,
                offset: 0,
                expected: "the magic \\x93NUMPY",
                found: prefix[0..<6].map { String($0, radix: 16) }.joined(separator: " ")
            )
        }
        let major = prefix[6]
        let headerLength: Int
        let headerStart: Int64
        switch major {
        case 1:
            headerLength = Int(UInt16(prefix[8]) | UInt16(prefix[9]) << 8)
            headerStart = 10
        case 2, 3:
            guard size >= 12 else {
                throw VectorFileError(.truncated, path: path, offset: 8, expected: "a 4-byte header length", found: "end of file")
            }
            headerLength = Int(UInt32(prefix[8]) | UInt32(prefix[9]) << 8 | UInt32(prefix[10]) << 16 | UInt32(prefix[11]) << 24)
            headerStart = 12
        default:
            throw VectorFileError(.badHeader, path: path, offset: 6, expected: "format version 1, 2 or 3", found: "\(major)")
        }
        guard headerStart + Int64(headerLength) <= size, headerLength <= 1 << 20 else {
            throw VectorFileError(
                .truncated,
                path: path,
                offset: headerStart,
                expected: "a header of \(headerLength) bytes",
                found: "\(size - headerStart) bytes"
            )
        }
        var headerBytes = [UInt8](repeating: 0, count: headerLength)
        try read(at: headerStart, into: &headerBytes, count: headerLength)
        let header = try NumpyHeader.parse(String(decoding: headerBytes, as: UTF8.self), path: path, offset: headerStart)
        let dataOffset = headerStart + Int64(headerLength)
        try checkDimension(header.dimension, at: headerStart)
        let rowBytes = Int64(header.dimension) * Int64(header.scalar.byteWidth)
        let (payload, overflow) = Int64(header.count).multipliedReportingOverflow(by: rowBytes)
        guard !overflow, payload <= size else {
            throw VectorFileError(
                .truncated,
                path: path,
                offset: size,
                expected: "\(header.count) rows of \(rowBytes) bytes for shape (\(header.count), \(header.dimension)) of \(header.scalar)",
                found: "\(size) bytes"
            )
        }
        guard size == dataOffset + payload else {
            throw VectorFileError(
                size < dataOffset + payload ? .truncated : .sizeMismatch,
                path: path,
                offset: min(size, dataOffset + payload),
                expected: "\(dataOffset + payload) bytes for shape (\(header.count), \(header.dimension)) of \(header.scalar)",
                found: "\(size) bytes"
            )
        }
        return VectorFileLayout(
            format: .npy,
            scalar: header.scalar,
            count: header.count,
            dimension: header.dimension,
            dataOffset: dataOffset,
            rowStride: header.dimension * header.scalar.byteWidth,
            rowPrefix: 0,
            hasTrailingDistances: false,
            fileSize: size
        )
    }

    private func checkDimension(_ dimension: Int, at offset: Int64) throws(VectorFileError) {
        guard dimension >= 1, dimension <= VectorMatrix.maximumDimension else {
            throw VectorFileError(
                .badDimension,
                path: path,
                offset: offset,
                expected: "a dimension in 1...\(VectorMatrix.maximumDimension)",
                found: "\(dimension)"
            )
        }
    }

    private func readInteger<T: FixedWidthInteger>(at offset: Int64, as type: T.Type) throws(VectorFileError) -> T {
        var bytes = [UInt8](repeating: 0, count: MemoryLayout<T>.size)
        try read(at: offset, into: &bytes, count: bytes.count)
        return T(littleEndian: bytes.withUnsafeBytes { $0.loadUnaligned(as: T.self) })
    }

    private func read(at offset: Int64, into bytes: inout [UInt8], count: Int) throws(VectorFileError) {
        let n: Int
        do {
            n = try bytes.withUnsafeMutableBytes { try descriptor.read(fromAbsoluteOffset: offset, into: $0) }
        } catch {
            throw VectorFileError(.ioFailure, path: path, offset: offset, found: "\(error)")
        }
        guard n == count else {
            throw VectorFileError(.truncated, path: path, offset: offset + Int64(n), expected: "\(count) bytes", found: "\(n)")
        }
    }
}

/// The parts of a NumPy `.npy` header dictionary that Swann uses.
struct NumpyHeader {
    var scalar: FileScalar
    var count: Int
    var dimension: Int

    /// Parses `{'descr': '<f4', 'fortran_order': False, 'shape': (10000, 384), }` strictly, as
    /// numpy's own reader does: exactly these three keys, each once, a closed dictionary and
    /// nothing after it but padding. A 1-D shape `(n,)` is n rows of dimension 1 (id files).
    static func parse(_ text: String, path: String, offset: Int64) throws(VectorFileError) -> NumpyHeader {
        var parser = NumpyDictionaryParser(bytes: Array(text.utf8))
        func fail(_ expected: String) -> VectorFileError {
            VectorFileError(.badHeader, path: path, offset: offset + Int64(parser.position), expected: expected, found: text)
        }
        var descr: String?
        var fortran: Bool?
        var shape: [Int]?
        guard parser.take("{") else { throw fail("'{' opening the header dictionary") }
        while !parser.take("}") {
            guard let key = parser.string() else { throw fail("a quoted key or '}'") }
            guard parser.take(":") else { throw fail("':' after '\(key)'") }
            switch key {
            case "descr" where descr == nil:
                guard let value = parser.string() else { throw fail("a quoted dtype for 'descr'") }
                descr = value
            case "fortran_order" where fortran == nil:
                guard let value = parser.boolean() else { throw fail("True or False for 'fortran_order'") }
                fortran = value
            case "shape" where shape == nil:
                guard let value = parser.tuple() else { throw fail("a tuple of non-negative integers for 'shape'") }
                shape = value
            case "descr", "fortran_order", "shape":
                throw fail("'\(key)' once (a repeated key is ambiguous)")
            default:
                throw fail("only the keys 'descr', 'fortran_order' and 'shape', not '\(key)'")
            }
            if !parser.take(",") {
                guard parser.take("}") else { throw fail("',' or '}'") }
                break
            }
        }
        guard parser.atEndOfPadding() else { throw fail("only spaces and a newline after the dictionary") }
        guard let descr, let fortran, let shape else { throw fail("the keys 'descr', 'fortran_order' and 'shape'") }
        let scalar: FileScalar
        switch descr {
        case "<f4": scalar = .float32
        case "<f2": scalar = .float16
        case "|i1", "<i1", "i1": scalar = .int8
        case "|u1", "<u1", "u1": scalar = .uint8
        case "<i4": scalar = .int32
        case "<i8": scalar = .int64
        case "<u8": scalar = .uint64
        default:
            throw VectorFileError(
                .unsupportedType,
                path: path,
                offset: offset,
                expected: "dtype <f4, <f2, |i1, |u1, <i4 (or <i8/<u8 for ids; little-endian)",
                found: "'\(descr)'"
            )
        }
        guard !fortran else {
            throw VectorFileError(.fortranOrder, path: path, offset: offset, expected: "fortran_order False", found: "True")
        }
        switch shape.count {
        case 1: return NumpyHeader(scalar: scalar, count: shape[0], dimension: 1)
        case 2: return NumpyHeader(scalar: scalar, count: shape[0], dimension: shape[1])
        default:
            throw VectorFileError(
                .badHeader,
                path: path,
                offset: offset,
                expected: "a 1-D (ids) or 2-D (rows, dimension) shape",
                found: "(\(shape.map(String.init).joined(separator: ", ")))"
            )
        }
    }
}

/// Reads the Python literals of an `.npy` header, skipping spaces between tokens.
struct NumpyDictionaryParser {
    let bytes: [UInt8]
    private(set) var position = 0

    init(bytes: [UInt8]) { self.bytes = bytes }

    private mutating func skipSpaces() {
        while position < bytes.count, bytes[position] == UInt8(ascii: " ") { position += 1 }
    }

    /// Consumes `token` if it comes next.
    mutating func take(_ token: Unicode.Scalar) -> Bool {
        skipSpaces()
        guard position < bytes.count, bytes[position] == UInt8(ascii: token) else { return false }
        position += 1
        return true
    }

    /// A string in single or double quotes, without escapes (numpy writes none).
    mutating func string() -> String? {
        skipSpaces()
        guard position < bytes.count, bytes[position] == UInt8(ascii: "'") || bytes[position] == UInt8(ascii: "\"") else { return nil }
        let quote = bytes[position]
        guard let end = bytes[(position + 1)...].firstIndex(of: quote) else { return nil }
        let value = String(decoding: bytes[(position + 1)..<end], as: UTF8.self)
        guard !value.contains("\\") else { return nil }
        position = end + 1
        return value
    }

    mutating func boolean() -> Bool? {
        skipSpaces()
        for (word, value) in [("True", true), ("False", false)] where bytes[position...].starts(with: word.utf8) {
            position += word.utf8.count
            return value
        }
        return nil
    }

    /// `()`, `(n,)`, `(n, d)`, …: non-negative integers that fit in an Int.
    mutating func tuple() -> [Int]? {
        guard take("(") else { return nil }
        var values: [Int] = []
        while !take(")") {
            skipSpaces()
            let start = position
            while position < bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[position]) { position += 1 }
            // Python writes 'L' after longs in numpy's old headers.
            guard position > start, position - start <= 18, let value = Int(String(decoding: bytes[start..<position], as: UTF8.self))
            else { return nil }
            if position < bytes.count, bytes[position] == UInt8(ascii: "L") { position += 1 }
            values.append(value)
            if !take(",") {
                guard take(")") else { return nil }
                break
            }
        }
        return values
    }

    /// Only spaces and newlines remain (numpy pads the header to an aligned length).
    func atEndOfPadding() -> Bool {
        bytes[position...].allSatisfy { $0 == UInt8(ascii: " ") || $0 == UInt8(ascii: "\n") }
    }
}
