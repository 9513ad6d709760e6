@_spi(Engine) import SwannCore
import SystemPackage

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One posting list as read: `count` vector ids followed by `count` rows, borrowed from a
/// `PostingBuffer` until its next read.
package struct PostingView {
    package var ids: UnsafePointer<UInt32>
    package var vectors: UnsafeRawPointer
    package var count: Int
}

/// A reusable, page-aligned read buffer (one per searching thread).
package final class PostingBuffer: @unchecked Sendable {
    package private(set) var capacity: Int
    package private(set) var base: UnsafeMutableRawPointer

    package init(capacity: Int = 1 << 20) {
        self.capacity = IndexLayout.align(max(capacity, IndexLayout.pageSize), to: IndexLayout.pageSize)
        base = .allocate(byteCount: self.capacity, alignment: IndexLayout.pageSize)
    }

    deinit { base.deallocate() }

    /// Makes room for `bytes`, discarding the contents.
    package func reserve(_ bytes: Int) {
        guard bytes > capacity else { return }
        base.deallocate()
        capacity = IndexLayout.align(bytes, to: IndexLayout.pageSize)
        base = .allocate(byteCount: capacity, alignment: IndexLayout.pageSize)
    }
}

/// Where posting lists live (faiss's `InvertedLists`, SPTAG's extra searcher). Implementations
/// must allow concurrent `read` calls from different threads with different buffers.
package protocol PostingStore: Sendable {
    /// The list locations (offset, size, entries, checksum), one per centroid.
    var locations: [PostingLocation] { get }
    /// The bytes reading list `list` takes from the file (the list itself, or with O_DIRECT the
    /// aligned span around it): what a query's `bytesRead` counts.
    func bytesRead(for list: Int) -> Int
    /// Reads list `list` into `buffer` and returns a view of it.
    /// - Throws: `IndexError` if the read fails, comes up short, or (with `verify`) the bytes do not
    ///   match the list's checksum.
    func read(_ list: Int, into buffer: PostingBuffer, verify: Bool) throws(IndexError) -> PostingView
    /// Reads every list of `lists` and calls `each(list, view)` for it, in any order unless
    /// `inOrder`; stops early when `each` returns false. Views are valid during their call only.
    /// A store may have the reads in flight together (O_DIRECT with kernel AIO); otherwise they
    /// go one after another into `buffer`.
    /// - Parameters:
    ///   - verify: whether to check list i's checksum.
    ///   - inOrder: call `each` in the order of `lists` (a scan whose result depends on the
    ///     order, as RaBitQ's does); reads in flight together are then all awaited first.
    func read(
        _ lists: [Int],
        into buffer: PostingBuffer,
        verify: (Int) -> Bool,
        inOrder: Bool,
        each: (Int, PostingView) -> Bool
    ) throws(IndexError)
}

extension PostingStore {
    package func bytesRead(for list: Int) -> Int { locations[list].byteCount }

    package func read(
        _ lists: [Int],
        into buffer: PostingBuffer,
        verify: (Int) -> Bool,
        inOrder: Bool,
        each: (Int, PostingView) -> Bool
    ) throws(IndexError) {
        try readOneByOne(lists, into: buffer, verify: verify, each: each)
    }

    /// `read(_:into:verify:inOrder:each:)` in any order.
    package func read(
        _ lists: [Int],
        into buffer: PostingBuffer,
        verify: (Int) -> Bool,
        each: (Int, PostingView) -> Bool
    ) throws(IndexError) {
        try read(lists, into: buffer, verify: verify, inOrder: false, each: each)
    }

    func readOneByOne(_ lists: [Int], into buffer: PostingBuffer, verify: (Int) -> Bool, each: (Int, PostingView) -> Bool) throws(IndexError) {
        for list in lists {
            guard each(list, try read(list, into: buffer, verify: verify(list))) else { return }
        }
    }

    /// The view of list `list` whose bytes start at `base`, after checking them when asked.
    func view(_ list: Int, at base: UnsafeMutableRawPointer, verify: Bool, path: String) throws(IndexError) -> PostingView {
        let location = locations[list]
        if verify {
            let sum = Checksum.of(UnsafeRawBufferPointer(start: base, count: location.byteCount))
            guard sum == location.checksum else {
                throw IndexError(
                    .checksumMismatch,
                    path: path,
                    offset: location.offset,
                    detail: "posting list \(list) is corrupt (checksum \(FileChecksum.hex(sum)), expected \(FileChecksum.hex(location.checksum)))"
                )
            }
        }
        return PostingView(
            ids: UnsafePointer(base.assumingMemoryBound(to: UInt32.self)),
            vectors: UnsafeRawPointer(base + location.entryCount * 4),
            count: location.entryCount
        )
    }
}

/// Reads posting lists from `postings.bin` with `pread`: through the page cache by default, or
/// with `O_DIRECT` (page-aligned buffers, offsets and sizes) to measure the cold, SSD-like path.
package final class FilePostingStore: PostingStore {
    package let locations: [PostingLocation]
    private let file: PositionalFile
    /// With O_DIRECT, a query's reads go out together through one of these.
    private let batches: ReadBatchPool?

    /// Opens the posting file of an index.
    package init(indexPath: String, header: IndexHeader, directIO: Bool) throws(IndexError) {
        file = try PositionalFile(path: IndexLayout.path(IndexLayout.postings, in: indexPath), directIO: directIO)
        locations = header.directory
        batches = directIO ? ReadBatchPool() : nil
    }

    package var path: String { file.path }
    package var directIO: Bool { file.directIO }

    package func bytesRead(for list: Int) -> Int { span(of: list).length }

    /// The file span that holds list `list` (lists start on page boundaries, so `skip` is 0).
    private func span(of list: Int) -> (start: Int, length: Int, skip: Int) {
        file.span(offset: Int(locations[list].offset), bytes: locations[list].byteCount)
    }

    package func read(_ list: Int, into buffer: PostingBuffer, verify: Bool) throws(IndexError) -> PostingView {
        let span = span(of: list)
        buffer.reserve(span.length)
        try file.read(
            into: buffer.base,
            bytes: span.length,
            at: span.start,
            minimum: span.skip + locations[list].byteCount,
            what: "list \(list)"
        )
        return try view(list, at: buffer.base + span.skip, verify: verify, path: path)
    }

    package func read(
        _ lists: [Int],
        into buffer: PostingBuffer,
        verify: (Int) -> Bool,
        inOrder: Bool,
        each: (Int, PostingView) -> Bool
    ) throws(IndexError) {
        // Through the page cache a read is a copy: submitting it costs more than it saves.
        guard let batches, lists.count > 1 else {
            return try readOneByOne(lists, into: buffer, verify: verify, each: each)
        }
        try batches.withBatch { (batch) throws(IndexError) in
            guard let batch else { return try readOneByOne(lists, into: buffer, verify: verify, each: each) }
            try read(lists, into: buffer, batch: batch, verify: verify, inOrder: inOrder, each: each)
        }
    }

    private func read(
        _ lists: [Int],
        into buffer: PostingBuffer,
        batch: ReadBatch,
        verify: (Int) -> Bool,
        inOrder: Bool,
        each: (Int, PostingView) -> Bool
    ) throws(IndexError) {
        // Each read's span is a multiple of the O_DIRECT alignment, so every destination packed
        // after the one before stays aligned.
        var total = 0
        for list in lists { total += span(of: list).length }
        buffer.reserve(total)
        batch.reads.removeAll(keepingCapacity: true)
        var start = 0
        for list in lists {
            let span = span(of: list)
            batch.reads.append(
                ReadBatch.Read(
                    offset: span.start,
                    bytes: span.length,
                    minimum: span.skip + locations[list].byteCount,
                    destination: buffer.base + start
                )
            )
            start += span.length
        }
        func listView(_ i: Int) throws(IndexError) -> PostingView {
            let list = lists[i]
            return try view(list, at: batch.reads[i].destination + span(of: list).skip, verify: verify(list), path: path)
        }
        if inOrder {
            try batch.perform(on: file, what: { "list \(lists[$0])" }) { (_: Int) throws(IndexError) -> Bool in true }
            for i in lists.indices {
                guard each(lists[i], try listView(i)) else { return }
            }
            return
        }
        try batch.perform(on: file, what: { "list \(lists[$0])" }) { (i: Int) throws(IndexError) -> Bool in
            each(lists[i], try listView(i))
        }
    }
}

/// Holds the whole posting file in memory: for tests, and for serving small indexes from RAM.
package final class InMemoryPostingStore: PostingStore {
    package let locations: [PostingLocation]
    private let bytes: [UInt8]
    private let path: String

    package init(indexPath: String, header: IndexHeader) throws(IndexError) {
        path = IndexLayout.path(IndexLayout.postings, in: indexPath)
        guard let data = WholeFile.contents(atPath: path) else {
            throw IndexError(.missing, path: path, detail: "missing or unreadable")
        }
        bytes = data
        locations = header.directory
    }

    package func read(_ list: Int, into buffer: PostingBuffer, verify: Bool) throws(IndexError) -> PostingView {
        let location = locations[list]
        guard Int(location.offset) + location.byteCount <= bytes.count else {
            throw IndexError(.truncated, path: path, offset: location.offset, detail: "list \(list) lies past the end of the file")
        }
        buffer.reserve(location.byteCount)
        bytes.withUnsafeBytes { raw in
            buffer.base.copyMemory(from: raw.baseAddress! + Int(location.offset), byteCount: location.byteCount)
        }
        return try view(list, at: buffer.base, verify: verify, path: path)
    }
}

private enum WholeFile {
    static func contents(atPath path: String) -> [UInt8]? {
        guard let descriptor = try? FileDescriptor.open(FilePath(path), .readOnly, options: [.closeOnExec]) else { return nil }
        defer { try? descriptor.close() }
        guard let size = try? descriptor.seek(offset: 0, from: .end), size >= 0 else { return nil }
        var bytes = [UInt8](repeating: 0, count: Int(size))
        let n = try? bytes.withUnsafeMutableBytes { try descriptor.read(fromAbsoluteOffset: 0, into: $0) }
        return n == Int(size) ? bytes : nil
    }
}
