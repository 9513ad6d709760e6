import SwannCore
import SystemPackage

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One posting list as read: `count` vector ids followed by `count` rows, borrowed from a
/// `PostingBuffer` until its next read.
public struct PostingView {
    public var ids: UnsafePointer<UInt32>
    public var vectors: UnsafeRawPointer
    public var count: Int
}

/// A reusable, page-aligned read buffer (one per searching thread).
public final class PostingBuffer: @unchecked Sendable {
    public private(set) var capacity: Int
    public private(set) var base: UnsafeMutableRawPointer

    public init(capacity: Int = 1 << 20) {
        self.capacity = IndexLayout.align(max(capacity, IndexLayout.pageSize), to: IndexLayout.pageSize)
        base = .allocate(byteCount: self.capacity, alignment: IndexLayout.pageSize)
    }

    deinit { base.deallocate() }

    /// Makes room for `bytes`, discarding the contents.
    public func reserve(_ bytes: Int) {
        guard bytes > capacity else { return }
        base.deallocate()
        capacity = IndexLayout.align(bytes, to: IndexLayout.pageSize)
        base = .allocate(byteCount: capacity, alignment: IndexLayout.pageSize)
    }
}

/// Where posting lists live (faiss's `InvertedLists`, SPTAG's extra searcher). Implementations
/// must allow concurrent `read` calls from different threads with different buffers.
public protocol PostingStore: Sendable {
    /// The list locations (offset, size, entries, checksum), one per centroid.
    var locations: [PostingLocation] { get }
    /// Reads list `list` into `buffer` and returns a view of it.
    /// - Throws: `IndexError` if the read fails, comes up short, or (with `verify`) the bytes do not
    ///   match the list's checksum.
    func read(_ list: Int, into buffer: PostingBuffer, verify: Bool) throws(IndexError) -> PostingView
}

extension PostingStore {
    func view(_ list: Int, buffer: PostingBuffer, rowBytes: Int, verify: Bool, path: String) throws(IndexError) -> PostingView {
        let location = locations[list]
        if verify {
            let sum = Checksum.of(UnsafeRawBufferPointer(start: buffer.base, count: location.byteCount))
            guard sum == location.checksum else {
                throw IndexError(
                    .checksumMismatch, path: path, offset: location.offset,
                    detail: "posting list \(list) is corrupt (checksum \(FileChecksum.hex(sum)), expected \(FileChecksum.hex(location.checksum)))")
            }
        }
        return PostingView(
            ids: UnsafePointer(buffer.base.assumingMemoryBound(to: UInt32.self)),
            vectors: UnsafeRawPointer(buffer.base + location.entryCount * 4), count: location.entryCount)
    }
}

/// Reads posting lists from `postings.bin` with `pread`: through the page cache by default, or
/// with `O_DIRECT` (page-aligned buffers, offsets and sizes) to measure the cold, SSD-like path.
public final class FilePostingStore: PostingStore {
    public let locations: [PostingLocation]
    private let rowBytes: Int
    private let file: PositionalFile

    /// Opens the posting file of an index.
    public init(indexPath: String, header: IndexHeader, directIO: Bool) throws(IndexError) {
        file = try PositionalFile(path: indexPath + "/" + IndexLayout.postings, directIO: directIO)
        locations = header.directory
        rowBytes = header.manifest.dimension * header.manifest.elementType.byteWidth
    }

    public var path: String { file.path }
    public var directIO: Bool { file.directIO }

    public func read(_ list: Int, into buffer: PostingBuffer, verify: Bool) throws(IndexError) -> PostingView {
        let location = locations[list]
        let bytes = directIO ? IndexLayout.align(location.byteCount, to: IndexLayout.pageSize) : location.byteCount
        buffer.reserve(bytes)
        try file.read(into: buffer.base, bytes: bytes, at: Int(location.offset), what: "list \(list)")
        return try view(list, buffer: buffer, rowBytes: rowBytes, verify: verify, path: path)
    }
}

/// Holds the whole posting file in memory: for tests, and for serving small indexes from RAM.
public final class InMemoryPostingStore: PostingStore {
    public let locations: [PostingLocation]
    private let bytes: [UInt8]
    private let rowBytes: Int
    private let path: String

    public init(indexPath: String, header: IndexHeader) throws(IndexError) {
        path = indexPath + "/" + IndexLayout.postings
        guard let data = WholeFile.contents(atPath: path) else {
            throw IndexError(.missing, path: path, detail: "missing or unreadable")
        }
        bytes = data
        locations = header.directory
        rowBytes = header.manifest.dimension * header.manifest.elementType.byteWidth
    }

    public func read(_ list: Int, into buffer: PostingBuffer, verify: Bool) throws(IndexError) -> PostingView {
        let location = locations[list]
        guard Int(location.offset) + location.byteCount <= bytes.count else {
            throw IndexError(.truncated, path: path, offset: location.offset, detail: "list \(list) lies past the end of the file")
        }
        buffer.reserve(location.byteCount)
        bytes.withUnsafeBytes { raw in
            buffer.base.copyMemory(from: raw.baseAddress! + Int(location.offset), byteCount: location.byteCount)
        }
        return try view(list, buffer: buffer, rowBytes: rowBytes, verify: verify, path: path)
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
