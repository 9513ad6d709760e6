import CSwannKernels

/// One operation in the write-ahead log: a whole batch, so that a batch is replayed whole or
/// not at all. docs/FORMAT.md ("wal.log") documents every byte.
package enum LogRecord: Sendable, Equatable {
    /// Insert or replace `ids[i]` with row i of `vectors` (`ids.count × dimension` floats).
    case upsert(ids: [UInt64], vectors: [Float])
    /// Remove `ids` (absent ids are ignored).
    case delete(ids: [UInt64])

    enum Kind: UInt8 {
        case upsert = 1
        case delete = 2
    }
}

/// The byte layout of `wal.log`: a 32-byte file header, then records of
/// `length u32 | crc32c u32 | payload[length]`, the CRC covering the length and the payload.
/// Every integer is little-endian.
package enum LogFormat {
    package static let magic: [UInt8] = Array("SWANNWAL".utf8)
    package static let version: UInt32 = 1
    package static let fileHeaderSize = 32
    /// length + CRC before each payload.
    package static let recordHeaderSize = 8
    /// kind u8, 3 zero bytes, count u32, then ids (u64 each), then for upserts the rows.
    package static let payloadHeaderSize = 8
    /// The largest payload a reader accepts (a 64 MiB batch): a length above it is a torn or
    /// corrupt record, not an allocation.
    package static let maxPayloadBytes = 64 << 20

    /// The file header for vectors of `dimension` components.
    package static func fileHeader(dimension: Int) -> [UInt8] {
        var bytes = magic
        bytes.appendLittleEndian(version)
        bytes.appendLittleEndian(UInt32(dimension))
        bytes += [UInt8](repeating: 0, count: 12)
        let crc = bytes.withUnsafeBytes { swann_crc32c(0, $0.baseAddress, $0.count) }
        bytes.appendLittleEndian(crc)
        return bytes
    }

    /// `record` framed for the log: length, CRC and payload.
    package static func encode(_ record: LogRecord, dimension: Int, into bytes: inout [UInt8]) {
        let start = bytes.count
        bytes += [UInt8](repeating: 0, count: recordHeaderSize)
        switch record {
        case .upsert(let ids, let vectors):
            precondition(vectors.count == ids.count * dimension, "an upsert record holds one row per id")
            appendPayloadHeader(.upsert, count: ids.count, to: &bytes)
            for id in ids { bytes.appendLittleEndian(id) }
            for v in vectors { bytes.appendLittleEndian(v.bitPattern) }
        case .delete(let ids):
            appendPayloadHeader(.delete, count: ids.count, to: &bytes)
            for id in ids { bytes.appendLittleEndian(id) }
        }
        let length = UInt32(bytes.count - start - recordHeaderSize)
        withUnsafeBytes(of: length.littleEndian) { bytes.replaceSubrange(start..<start + 4, with: $0) }
        let crc = bytes.withUnsafeBytes { all in
            let lengthCRC = swann_crc32c(0, all.baseAddress! + start, 4)
            return swann_crc32c(lengthCRC, all.baseAddress! + start + recordHeaderSize, Int(length))
        }
        withUnsafeBytes(of: crc.littleEndian) { bytes.replaceSubrange(start + 4..<start + 8, with: $0) }
    }

    private static func appendPayloadHeader(_ kind: LogRecord.Kind, count: Int, to bytes: inout [UInt8]) {
        bytes.append(kind.rawValue)
        bytes += [0, 0, 0]
        bytes.appendLittleEndian(UInt32(count))
    }

    /// What a log's bytes hold.
    package struct Decoded: Sendable, Equatable {
        /// Every complete, intact record, in order.
        package var records: [LogRecord]
        /// Bytes up to the end of the last intact record: where appending continues.
        package var validBytes: Int
        /// Why decoding stopped before the end, if it did (a torn or corrupt tail), with the
        /// offset of the first byte dropped.
        package var stopped: (offset: Int, reason: String)?

        package static func == (a: Decoded, b: Decoded) -> Bool {
            a.records == b.records && a.validBytes == b.validBytes && a.stopped?.offset == b.stopped?.offset
        }
    }

    /// Decodes a whole log file. The header must be intact and match `dimension` (anything else
    /// is not this index's log: an error, never a silent truncation); the records are read up to
    /// the first that is incomplete or fails its CRC, which with everything after it is the torn
    /// tail of a write that was never acknowledged.
    /// - Throws: `IndexError` naming `path` for a bad header.
    package static func decode(_ bytes: UnsafeRawBufferPointer, dimension: Int, path: String) throws(IndexError) -> Decoded {
        guard bytes.count >= fileHeaderSize else {
            throw IndexError(.truncated, path: path, offset: 0, detail: "the log header is \(bytes.count) bytes, expected \(fileHeaderSize)")
        }
        guard bytes.prefix(magic.count).elementsEqual(magic) else {
            throw IndexError(.badMagic, path: path, offset: 0, detail: "not a Swann write-ahead log (expected \"SWANNWAL\")")
        }
        let headerCRC = swann_crc32c(0, bytes.baseAddress, fileHeaderSize - 4)
        guard headerCRC == bytes.loadLittleEndian(UInt32.self, at: fileHeaderSize - 4) else {
            throw IndexError(.checksumMismatch, path: path, offset: 0, detail: "the log header's CRC does not match")
        }
        let version = bytes.loadLittleEndian(UInt32.self, at: 8)
        guard version == self.version else {
            throw IndexError(.unsupportedVersion, path: path, offset: 8, detail: "log format version \(version), this build reads \(self.version)")
        }
        let logDimension = Int(bytes.loadLittleEndian(UInt32.self, at: 12))
        guard logDimension == dimension else {
            throw IndexError(
                .inconsistent,
                path: path,
                offset: 12,
                detail: "the log holds vectors of dimension \(logDimension), the index \(dimension)"
            )
        }
        var decoded = Decoded(records: [], validBytes: fileHeaderSize, stopped: nil)
        var offset = fileHeaderSize
        while offset < bytes.count {
            switch record(in: bytes, at: offset, dimension: dimension) {
            case .success(let (record, end)):
                decoded.records.append(record)
                offset = end
                decoded.validBytes = end
            case .failure(let reason):
                decoded.stopped = (offset, reason.text)
                return decoded
            }
        }
        return decoded
    }

    struct Reason: Error {
        var text: String
        init(_ text: String) { self.text = text }
    }

    /// The record at `offset` and where it ends. Every size is checked against what remains
    /// before it is used, so no value read from the file can trap or allocate beyond the file.
    static func record(in bytes: UnsafeRawBufferPointer, at offset: Int, dimension: Int) -> Result<(LogRecord, Int), Reason> {
        let remaining = bytes.count - offset
        guard remaining >= recordHeaderSize else { return .failure(Reason("a record header cut short (\(remaining) of \(recordHeaderSize) bytes)")) }
        let length = Int(bytes.loadLittleEndian(UInt32.self, at: offset))
        guard length >= payloadHeaderSize, length <= maxPayloadBytes else {
            return .failure(Reason("a record length of \(length) bytes is outside \(payloadHeaderSize)...\(maxPayloadBytes)"))
        }
        guard length <= remaining - recordHeaderSize else {
            return .failure(Reason("a record of \(length) bytes cut short (\(remaining - recordHeaderSize) present)"))
        }
        let payload = offset + recordHeaderSize
        let crc = swann_crc32c(swann_crc32c(0, bytes.baseAddress! + offset, 4), bytes.baseAddress! + payload, length)
        guard crc == bytes.loadLittleEndian(UInt32.self, at: offset + 4) else { return .failure(Reason("a record's CRC does not match")) }
        let end = payload + length
        let count = Int(bytes.loadLittleEndian(UInt32.self, at: payload + 4))
        let body = length - payloadHeaderSize
        switch LogRecord.Kind(rawValue: bytes[payload]) {
        case .upsert:
            // count × (8 + 4 × dimension) ≤ 64 MiB: checked by division, so nothing overflows.
            let rowBytes = 8 + 4 * dimension
            guard body % rowBytes == 0, body / rowBytes == count else {
                return .failure(Reason("an upsert of \(count) rows holds \(body) bytes, expected \(count) × \(rowBytes)"))
            }
            var ids = [UInt64](repeating: 0, count: count)
            var vectors = [Float](repeating: 0, count: count * dimension)
            let rows = payload + payloadHeaderSize + 8 * count
            for i in 0..<count { ids[i] = bytes.loadLittleEndian(UInt64.self, at: payload + payloadHeaderSize + 8 * i) }
            for i in 0..<count * dimension { vectors[i] = Float(bitPattern: bytes.loadLittleEndian(UInt32.self, at: rows + 4 * i)) }
            return .success((.upsert(ids: ids, vectors: vectors), end))
        case .delete:
            guard body % 8 == 0, body / 8 == count else {
                return .failure(Reason("a delete of \(count) ids holds \(body) bytes, expected \(count) × 8"))
            }
            var ids = [UInt64](repeating: 0, count: count)
            for i in 0..<count { ids[i] = bytes.loadLittleEndian(UInt64.self, at: payload + payloadHeaderSize + 8 * i) }
            return .success((.delete(ids: ids), end))
        case nil:
            return .failure(Reason("unknown record kind \(bytes[payload])"))
        }
    }
}

extension [UInt8] {
    mutating func appendLittleEndian<T: FixedWidthInteger>(_ value: T) {
        Swift.withUnsafeBytes(of: value.littleEndian) { append(contentsOf: $0) }
    }
}

extension UnsafeRawBufferPointer {
    func loadLittleEndian<T: FixedWidthInteger>(_ type: T.Type, at offset: Int) -> T {
        T(littleEndian: loadUnaligned(fromByteOffset: offset, as: T.self))
    }
}
