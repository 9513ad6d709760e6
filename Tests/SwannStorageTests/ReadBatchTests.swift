import Foundation
@_spi(Engine) import SwannCore
import SwannStorage
import Testing

/// Many O_DIRECT reads in flight: every byte lands where asked, each read is reported once, and
/// a failing or stopped batch returns only when nothing is in flight.
struct ReadBatchTests {
    static let pageSize = IndexLayout.pageSize

    /// A file of `pages` pages whose byte at offset o is (o / 7) & 0xff, opened with O_DIRECT.
    func patternFile(pages: Int) throws -> PositionalFile {
        let path = temporaryDirectory() + "/pattern.bin"
        write((0..<pages * Self.pageSize).map { UInt8(truncatingIfNeeded: $0 / 7) }, to: path)
        return try PositionalFile(path: path, directIO: true)
    }

    /// The flag comes from the C headers; on the two architectures Swann ships for, it is the
    /// kernel's value (a wrong one would silently read through the page cache).
    @Test func theODirectFlagIsTheKernels() {
        #if arch(x86_64)
        #expect(PositionalFile.directFlag == 0o40000)
        #elseif arch(arm64)
        #expect(PositionalFile.directFlag == 0o200000)
        #endif
    }

    /// O_DIRECT reads are aligned to what the file system reports (statx), kept within
    /// 512...pageSize; a page where it reports nothing usable.
    @Test func aReportedAlignmentIsUsedOnlyWhenItIsSane() {
        #expect(PositionalFile.alignment(reported: 512) == 512)
        #expect(PositionalFile.alignment(reported: 2048) == 2048)
        #expect(PositionalFile.alignment(reported: Self.pageSize) == Self.pageSize)
        #expect(PositionalFile.alignment(reported: 1) == 512)
        #expect(PositionalFile.alignment(reported: 0) == Self.pageSize)
        #expect(PositionalFile.alignment(reported: 768) == Self.pageSize)
        #expect(PositionalFile.alignment(reported: 1 << 16) == Self.pageSize)
    }

    /// A 1,536-byte row (384 float32) at an offset that is not page-aligned is read through the
    /// aligned span around it; where the device takes 512-byte sectors that span is the row.
    @Test func anUnalignedRowIsReadThroughItsAlignedSpan() throws {
        let file = try patternFile(pages: 8)
        let alignment = file.directAlignment
        #expect(alignment >= 512 && alignment <= Self.pageSize && alignment & (alignment - 1) == 0)
        let offset = Self.pageSize + 3 * 1536
        let span = file.span(offset: offset, bytes: 1536)
        #expect(span.start % alignment == 0 && span.length % alignment == 0)
        #expect(span.start + span.skip == offset && span.skip + 1536 <= span.length)
        if alignment == 512 { #expect(span.length == 1536) }
        let buffer = PostingBuffer(capacity: 2 * Self.pageSize)
        try file.read(into: buffer.base, bytes: span.length, at: span.start, minimum: span.skip + 1536, what: "row 3")
        let row = UnsafeRawBufferPointer(start: buffer.base + span.skip, count: 1536)
        #expect(row.enumerated().allSatisfy { $0.element == UInt8(truncatingIfNeeded: (offset + $0.offset) / 7) })
        let buffered = try PositionalFile(path: file.path, directIO: false).span(offset: offset, bytes: 1536)
        #expect(buffered.start == offset && buffered.length == 1536 && buffered.skip == 0)
    }

    @Test func moreReadsThanTheDepthAllLandOnce() throws {
        let file = try patternFile(pages: 256)
        let batch = try #require(ReadBatch(), "kernel AIO is available on the Linux test machines")
        let count = ReadBatch.depth * 3 + 5
        let buffer = PostingBuffer(capacity: count * 2 * Self.pageSize)
        var rng = SplitMix64(seed: 9)
        for i in 0..<count {
            let page = Int(rng.next() % 255)
            batch.reads.append(
                ReadBatch.Read(
                    offset: page * Self.pageSize,
                    bytes: (1 + i % 2) * Self.pageSize,
                    minimum: Self.pageSize,
                    destination: buffer.base + i * 2 * Self.pageSize
                )
            )
        }
        var landed = [Int](repeating: 0, count: count)
        try batch.perform(on: file, what: { "read \($0)" }) { (i: Int) throws(IndexError) -> Bool in
            landed[i] += 1
            let read = batch.reads[i]
            let bytes = UnsafeRawBufferPointer(start: read.destination, count: read.bytes)
            for (j, byte) in bytes.enumerated() where byte != UInt8(truncatingIfNeeded: (read.offset + j) / 7) {
                Issue.record("read \(i): byte \(j) is \(byte)")
                return false
            }
            return true
        }
        #expect(landed == [Int](repeating: 1, count: count))
    }

    @Test func aReadPastTheEndIsReportedAsTruncated() throws {
        let file = try patternFile(pages: 4)
        let batch = try #require(ReadBatch())
        let buffer = PostingBuffer(capacity: 8 * Self.pageSize)
        for i in 0..<3 {
            // The last read asks for two pages of which only one exists.
            let page = i == 2 ? 3 : i
            batch.reads.append(
                ReadBatch.Read(
                    offset: page * Self.pageSize,
                    bytes: 2 * Self.pageSize,
                    minimum: 2 * Self.pageSize,
                    destination: buffer.base + i * 2 * Self.pageSize
                )
            )
        }
        do {
            try batch.perform(on: file, what: { "read \($0)" }) { (_: Int) throws(IndexError) -> Bool in true }
            Issue.record("a short read was accepted")
        } catch {
            #expect(error.code == .truncated)
            #expect(error.description.contains("read 2"))
        }
        // The batch is reusable after a failure.
        batch.reads.removeLast()
        var landed = 0
        try batch.perform(on: file, what: { "read \($0)" }) { (_: Int) throws(IndexError) -> Bool in
            landed += 1
            return true
        }
        #expect(landed == 2)
    }

    @Test func stoppingSkipsTheReadsNotYetSubmitted() throws {
        let file = try patternFile(pages: 64)
        let batch = try #require(ReadBatch())
        let count = ReadBatch.depth * 4
        let buffer = PostingBuffer(capacity: count * Self.pageSize)
        for i in 0..<count {
            batch.reads.append(
                ReadBatch.Read(
                    offset: (i % 64) * Self.pageSize,
                    bytes: Self.pageSize,
                    minimum: Self.pageSize,
                    destination: buffer.base + i * Self.pageSize
                )
            )
        }
        var landed = 0
        try batch.perform(on: file, what: { "read \($0)" }) { (_: Int) throws(IndexError) -> Bool in
            landed += 1
            return false
        }
        #expect(landed == 1)
    }
}
