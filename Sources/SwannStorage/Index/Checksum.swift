import SystemPackage

/// A fast non-cryptographic 64-bit checksum for detecting corrupt index bytes.
///
/// Four independent multiply–xor lanes over 8-byte words (FNV-1a's mixing step, widened so the
/// multiplies overlap) run at several bytes per cycle, which matters because every posting read
/// is verified. Written here rather than taken from a package because the only hash in the
/// allowed package set is swift-crypto's cryptographic SHA family: an order of magnitude slower
/// and minutes of extra build time, for integrity checking that needs no collision resistance.
package enum Checksum {
    @usableFromInline static let prime: UInt64 = 0x0000_0100_0000_01B3
    @usableFromInline static let offset: UInt64 = 0xCBF2_9CE4_8422_2325

    /// The checksum of `bytes`.
    @inlinable
    package static func of(_ bytes: UnsafeRawBufferPointer) -> UInt64 {
        guard let base = bytes.baseAddress else { return offset }
        let count = bytes.count
        var h0 = offset
        var h1 = offset ^ 1
        var h2 = offset ^ 2
        var h3 = offset ^ 3
        var i = 0
        while i &+ 32 <= count {
            h0 = (h0 ^ base.loadUnaligned(fromByteOffset: i, as: UInt64.self)) &* prime
            h1 = (h1 ^ base.loadUnaligned(fromByteOffset: i &+ 8, as: UInt64.self)) &* prime
            h2 = (h2 ^ base.loadUnaligned(fromByteOffset: i &+ 16, as: UInt64.self)) &* prime
            h3 = (h3 ^ base.loadUnaligned(fromByteOffset: i &+ 24, as: UInt64.self)) &* prime
            h0 ^= h0 &>> 29
            h1 ^= h1 &>> 29
            h2 ^= h2 &>> 29
            h3 ^= h3 &>> 29
            i &+= 32
        }
        var h = (h0 &* 3) ^ (h1 &* 5) ^ (h2 &* 7) ^ (h3 &* 11) ^ UInt64(count)
        while i < count {
            h = (h ^ UInt64(base.load(fromByteOffset: i, as: UInt8.self))) &* prime
            i &+= 1
        }
        return h ^ (h &>> 32)
    }

    /// The checksum of an array's bytes.
    package static func of<T: BitwiseCopyable>(_ values: [T]) -> UInt64 {
        values.withUnsafeBytes { of($0) }
    }
}

/// Whole-file checksums: the checksum of the list of `Checksum.of` each 1 MiB block, so a file
/// is hashed in bounded memory.
package enum FileChecksum {
    static let blockSize = 1 << 20

    /// Size and checksum of the file open as `descriptor`.
    static func compute(descriptor: FileDescriptor, path: String) throws(IndexError) -> (Int64, UInt64) {
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: blockSize, alignment: 64)
        defer { buffer.deallocate() }
        var blockSums: [UInt64] = []
        var offset: Int64 = 0
        while true {
            let n: Int
            do { n = try descriptor.read(fromAbsoluteOffset: offset, into: buffer) } catch {
                throw IndexError(.ioFailure, path: path, offset: offset, detail: "read failed: \(error)")
            }
            if n == 0 { break }
            blockSums.append(Checksum.of(UnsafeRawBufferPointer(rebasing: buffer[0..<n])))
            offset += Int64(n)
        }
        return (offset, Checksum.of(blockSums))
    }

    /// The same checksum over bytes already in memory.
    static func compute(_ bytes: [UInt8]) -> UInt64 {
        bytes.withUnsafeBytes { raw in
            let blocks = stride(from: 0, to: raw.count, by: blockSize).map { start in
                Checksum.of(UnsafeRawBufferPointer(rebasing: raw[start..<min(raw.count, start + blockSize)]))
            }
            return Checksum.of(blocks)
        }
    }

    /// 16 lowercase hex digits.
    package static func hex(_ value: UInt64) -> String {
        let digits = String(value, radix: 16)
        return String(repeating: "0", count: 16 - digits.count) + digits
    }
}
