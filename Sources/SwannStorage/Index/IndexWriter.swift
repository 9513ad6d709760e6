import CSwannLinuxAIO
import Foundation
@_spi(Engine) package import SwannCore
import Synchronization
import SystemPackage

/// Everything a finished build hands to the writer.
package struct IndexContents {
    /// Manifest fields describing the data and the build; `files` is filled in by the writer.
    package var manifest: IndexManifest
    /// Row number (internal id) of each centroid's vector.
    package var centroidRows: [UInt32]
    /// Centroid vectors in the stored element type.
    package var centroids: VectorMatrix
    package var graph: CentroidGraph
    /// Members of each posting list (`lists.count == centroids.count`).
    package var lists: [[PostingAssignment.Member]]
    /// All vectors in the stored element type; posting entries copy rows of it.
    package var vectors: VectorMatrix
    /// User ids per internal id, when the user supplied them.
    package var idMap: [UInt64]?
    /// The exact float32 rows, written to `vectors.bin` when `vectors` holds int8 codes.
    package var exactRows: VectorMatrix?

    package init(
        manifest: IndexManifest,
        centroidRows: [UInt32],
        centroids: VectorMatrix,
        graph: CentroidGraph,
        lists: [[PostingAssignment.Member]],
        vectors: VectorMatrix,
        idMap: [UInt64]?,
        exactRows: VectorMatrix? = nil
    ) {
        self.manifest = manifest
        self.centroidRows = centroidRows
        self.centroids = centroids
        self.graph = graph
        self.lists = lists
        self.vectors = vectors
        self.idMap = idMap
        self.exactRows = exactRows
    }
}

/// An index directory written under a temporary name, waiting for `IndexWriter.publish(_:)`.
package struct StagedIndex: Sendable {
    /// The temporary directory holding it.
    package let directory: String
    /// Where it goes.
    package let path: String
    let overwrite: Bool
    /// The manifest as written (with file sizes and checksums).
    package internal(set) var manifest: IndexManifest

    /// Removes the staged directory (a checkpoint given up).
    package func discard() {
        try? FileManager.default.removeItem(atPath: directory)
    }
}

/// Writes an index directory crash-safely: everything goes into a hidden temporary sibling,
/// every file and the directory are fsynced, and only then is it renamed to the final name.
/// A build killed half-way leaves only the temporary directory, which the next build removes.
package enum IndexWriter {
    /// Writes `contents` as the index directory `path`.
    /// - Parameter overwrite: replace an existing index; otherwise an existing path is an error.
    /// - Returns: the manifest as written (with file sizes and checksums).
    @discardableResult
    package static func write(_ contents: IndexContents, to path: String, overwrite: Bool) throws(IndexError) -> IndexManifest {
        let staged = try stage(contents, for: path, overwrite: overwrite)
        do throws(IndexError) {
            try publish(staged)
        } catch {
            staged.discard()
            throw error
        }
        return staged.manifest
    }

    /// Writes `contents` into a hidden sibling of `path`, every file and the directory fsynced,
    /// without touching `path`: `publish(_:)` swaps it in. A live index stages its checkpoint
    /// while it goes on taking writes, and adds their log before the swap.
    /// - Parameter pacer: holds the writes to an I/O budget (a checkpoint's), when given.
    package static func stage(
        _ contents: IndexContents,
        for path: String,
        overwrite: Bool,
        pacer: WritePacer? = nil
    ) throws(IndexError) -> StagedIndex {
        let final = URL(fileURLWithPath: path).standardizedFileURL
        let parent = final.deletingLastPathComponent().path
        let name = final.lastPathComponent
        try checkDestination(final.path, parent: parent, overwrite: overwrite)
        removeLeftovers(in: parent, name: name)
        // The process id tells a later build whether the writer still runs; the sequence number
        // keeps two stagings of one process apart (a checkpoint of an index that was closed
        // for a reload may still be writing when the reopened one stages its own).
        let temporary = parent + "/.\(name).tmp-\(getpid())-\(stagings.add(1, ordering: .relaxed).newValue)"
        do {
            try FileManager.default.createDirectory(atPath: temporary, withIntermediateDirectories: false)
        } catch {
            throw IndexError(.ioFailure, path: temporary, detail: "cannot create the build directory: \(error.localizedDescription)")
        }
        do throws(IndexError) {
            var manifest = contents.manifest
            manifest.files = [
                try writeCentroids(contents, to: IndexLayout.path(IndexLayout.centroids, in: temporary), pacer: pacer),
                try writeGraph(contents.graph, to: IndexLayout.path(IndexLayout.graph, in: temporary), pacer: pacer),
            ]
            manifest.files += try writePostings(contents, directory: temporary, pacer: pacer)
            if let ids = contents.idMap {
                manifest.files.append(try writeIDMap(ids, to: IndexLayout.path(IndexLayout.idMap, in: temporary), pacer: pacer))
            }
            if let rows = contents.exactRows {
                manifest.files.append(try writeExactRows(rows, to: IndexLayout.path(IndexLayout.vectors, in: temporary), pacer: pacer))
            }
            try writeManifest(&manifest, in: temporary)
            try syncDirectory(temporary)
            return StagedIndex(directory: temporary, path: final.path, overwrite: overwrite, manifest: manifest)
        } catch {
            try? FileManager.default.removeItem(atPath: temporary)
            throw error
        }
    }

    /// Replaces the staged index's manifest (the build adds what it measured on the staged
    /// files: `IndexManifest.recallCalibration`); `files` must stay as staged.
    package static func rewriteManifest(of staged: inout StagedIndex, with manifest: IndexManifest) throws(IndexError) {
        var manifest = manifest
        manifest.files = staged.manifest.files
        try writeManifest(&manifest, in: staged.directory)
        try syncDirectory(staged.directory)
        staged.manifest = manifest
    }

    /// Replaces the manifest of the index at `path` in place, atomically (a temporary file
    /// renamed over it): for fields that describe the index without changing its files
    /// (`IndexManifest.recallCalibration`). A server serving it sees the change at its next
    /// reload.
    package static func replaceManifest(in path: String, with manifest: IndexManifest) throws(IndexError) {
        var manifest = manifest
        let temporary = path + "/.\(IndexLayout.manifest).tmp-\(getpid())"
        do throws(IndexError) {
            try writeManifest(&manifest, in: path, as: temporary)
            guard rename(temporary, IndexLayout.path(IndexLayout.manifest, in: path)) == 0 else {
                throw IndexError(.ioFailure, path: temporary, detail: "cannot rename over the manifest: \(String(cString: strerror(errno)))")
            }
            try syncDirectory(path)
        } catch {
            unlink(temporary)
            throw error
        }
    }

    /// Writes `manifest.json` (fsynced) with its checksum set.
    private static func writeManifest(_ manifest: inout IndexManifest, in directory: String, as file: String? = nil) throws(IndexError) {
        let path = file ?? IndexLayout.path(IndexLayout.manifest, in: directory)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        let json: Data
        do {
            manifest.manifestChecksum = try manifest.computedChecksum()
            json = try encoder.encode(manifest)
        } catch {
            throw IndexError(.ioFailure, path: path, detail: "cannot encode: \(error)")
        }
        try writeFile(path) { file throws(IndexError) in
            try io(file.path) { () throws(VectorFileError) in try file.write(Array(json)) }
        }
    }

    /// Puts a staged index in place under its final name (atomically replacing an index there,
    /// with `overwrite`) and makes the rename durable.
    package static func publish(_ staged: StagedIndex) throws(IndexError) {
        try swapIn(staged)
        try syncParent(of: staged.path)
    }

    /// The first half of `publish(_:)`: syncs the staged directory and renames it into place.
    /// Throws only if nothing was replaced; the rename is durable after `syncParent(of:)`.
    package static func swapIn(_ staged: StagedIndex) throws(IndexError) {
        try syncDirectory(staged.directory)
        try publish(staged.directory, as: staged.path, overwrite: staged.overwrite)
    }

    /// Makes a rename of `path` durable.
    package static func syncParent(of path: String) throws(IndexError) {
        try syncDirectory(URL(fileURLWithPath: path).deletingLastPathComponent().path)
    }

    /// Checks, before any work, that an index can be written at `path`: the parent exists and
    /// is writable, and nothing is there unless `overwrite`.
    package static func checkDestination(_ path: String, overwrite: Bool) throws(IndexError) {
        let final = URL(fileURLWithPath: path).standardizedFileURL
        try checkDestination(final.path, parent: final.deletingLastPathComponent().path, overwrite: overwrite)
    }

    static func checkDestination(_ path: String, parent: String, overwrite: Bool) throws(IndexError) {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: parent, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw IndexError(.ioFailure, path: parent, detail: "the parent directory does not exist")
        }
        guard access(parent, W_OK) == 0 else {
            throw IndexError(.ioFailure, path: parent, detail: "the parent directory is not writable")
        }
        guard FileManager.default.fileExists(atPath: path) else { return }
        guard overwrite else {
            throw IndexError(.alreadyExists, path: path, detail: "already exists (use --force to replace it)")
        }
        // --force replaces an index, never anything else: not a data directory, not a file,
        // not the build's own input.
        guard isIndex(path) else {
            throw IndexError(
                .alreadyExists,
                path: path,
                detail:
                    "exists and is not a Swann index (no readable \(IndexLayout.manifest)); --force replaces only an index, so remove it yourself or choose another --output"
            )
        }
    }

    /// Whether `path` is a directory holding a Swann manifest.
    static func isIndex(_ path: String) -> Bool {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue,
            let data = FileManager.default.contents(atPath: IndexLayout.path(IndexLayout.manifest, in: path))
        else { return false }
        return (try? JSONDecoder().decode(ManifestMarker.self, from: data)) != nil
    }

    /// The fields every manifest version has; enough to tell an index from anything else.
    private struct ManifestMarker: Decodable {
        var formatVersion: Int
        var dimension: Int
        var vectorCount: Int
    }

    /// Stagings this process has started (`stage(_:for:overwrite:)`).
    private static let stagings = Atomic<Int>(0)

    /// Removes `.NAME.tmp-PID-N` and `.NAME.old-PID` directories of processes that are no longer
    /// running (this process removes its own).
    static func removeLeftovers(in parent: String, name: String) {
        let prefixes = [".\(name).tmp-", ".\(name).old-"]
        guard let entries = try? FileManager.default.contentsOfDirectory(atPath: parent) else { return }
        for entry in entries {
            guard let prefix = prefixes.first(where: { entry.hasPrefix($0) }) else { continue }
            let owner = entry.dropFirst(prefix.count).split(separator: "-").first.flatMap { Int32($0) }
            if let owner, owner == getpid() || kill(owner, 0) == 0 { continue }  // still writing
            try? FileManager.default.removeItem(atPath: parent + "/" + entry)
        }
    }

    static func publish(_ temporary: String, as path: String, overwrite: Bool) throws(IndexError) {
        guard overwrite, FileManager.default.fileExists(atPath: path) else {
            guard rename(temporary, path) == 0 else {
                throw IndexError(.ioFailure, path: path, detail: "cannot rename \(temporary) into place: \(String(cString: strerror(errno)))")
            }
            return
        }
        // Checked again at the last moment: something else may have appeared since the start.
        guard isIndex(path) else {
            throw IndexError(.alreadyExists, path: path, detail: "is no longer a Swann index; not replacing it")
        }
        // One atomic swap: a crash leaves either the old index or the new one under `path`, and
        // the other under the temporary name, which the next build removes.
        let swapped = swann_rename_exchange(temporary, path)
        if swapped == 0 {
            try? FileManager.default.removeItem(atPath: temporary)
            return
        }
        guard swapped == -ENOSYS || swapped == -EINVAL else {
            throw IndexError(.ioFailure, path: path, detail: "cannot swap in the new index: \(String(cString: strerror(-swapped)))")
        }
        // No renameat2 (not Linux, or a file system without it): two renames, with the old
        // index parked where the next build of this name finds and removes it.
        let parked =
            URL(fileURLWithPath: path).deletingLastPathComponent().path
            + "/.\(URL(fileURLWithPath: path).lastPathComponent).old-\(getpid())"
        guard rename(path, parked) == 0 else {
            throw IndexError(.ioFailure, path: path, detail: "cannot move the old index aside: \(String(cString: strerror(errno)))")
        }
        guard rename(temporary, path) == 0 else {
            let reason = String(cString: strerror(errno))
            _ = rename(parked, path)
            throw IndexError(.ioFailure, path: path, detail: "cannot rename \(temporary) into place: \(reason)")
        }
        try? FileManager.default.removeItem(atPath: parked)
    }

    static func syncDirectory(_ path: String) throws(IndexError) {
        let fd = open(path, O_RDONLY | O_DIRECTORY)
        guard fd >= 0 else { throw IndexError(.ioFailure, path: path, detail: "cannot open directory to sync") }
        defer { close(fd) }
        guard fsync(fd) == 0 else { throw IndexError(.ioFailure, path: path, detail: "fsync failed: \(String(cString: strerror(errno)))") }
    }

    /// Creates `path`, runs `body`, flushes and fsyncs, and returns its manifest entry.
    @discardableResult
    static func writeFile(
        _ path: String,
        pacer: WritePacer? = nil,
        _ body: (OutputFile) throws(IndexError) -> Void
    ) throws(IndexError) -> IndexManifest.FileEntry {
        let descriptor: FileDescriptor
        do {
            descriptor = try FileDescriptor.open(
                FilePath(path),
                .readWrite,
                options: [.create, .truncate, .closeOnExec],
                permissions: [.ownerReadWrite, .groupRead, .otherRead]
            )
        } catch {
            throw IndexError(.ioFailure, path: path, detail: "cannot create: \(error)")
        }
        defer { try? descriptor.close() }
        let file = OutputFile(path: path, descriptor: descriptor, pacer: pacer)
        try body(file)
        try io(path) { () throws(VectorFileError) in try file.flush() }
        guard fsync(descriptor.rawValue) == 0 else {
            throw IndexError(.ioFailure, path: path, detail: "fsync failed: \(String(cString: strerror(errno)))")
        }
        let (bytes, checksum) = try FileChecksum.compute(descriptor: descriptor, path: path)
        return IndexManifest.FileEntry(
            name: URL(fileURLWithPath: path).lastPathComponent,
            bytes: bytes,
            checksum: FileChecksum.hex(checksum)
        )
    }

    /// Runs a write that reports `VectorFileError`s and re-raises them as `IndexError`s
    /// (a full disk shows up here).
    static func io(_ path: String, _ body: () throws(VectorFileError) -> Void) throws(IndexError) {
        do { try body() } catch {
            throw IndexError(.ioFailure, path: path, offset: error.offset, detail: error.found)
        }
    }

    static func writeCentroids(_ contents: IndexContents, to path: String, pacer: WritePacer?) throws(IndexError) -> IndexManifest.FileEntry {
        let centroids = contents.centroids
        var header = SectionHeader(.centroids)
        header.elementType = centroids.elementType
        header.dimension = UInt32(centroids.dimension)
        header.count = UInt64(centroids.count)
        header.rowBytes = UInt64(centroids.rowBytes)
        let rowsBytes = IndexLayout.align(centroids.count * 4, to: 64)
        header.payloadBytes = UInt64(rowsBytes + centroids.byteCount)
        return try writeFile(path, pacer: pacer) { file throws(IndexError) in
            try io(path) { () throws(VectorFileError) in
                try file.write(header.encoded())
                try file.write(contents.centroidRows.map(\.littleEndian))
                try file.write([UInt8](repeating: 0, count: rowsBytes - centroids.count * 4))
                try file.write(centroids.rawBytes)
            }
        }
    }

    static func writeGraph(_ graph: CentroidGraph, to path: String, pacer: WritePacer?) throws(IndexError) -> IndexManifest.FileEntry {
        var header = SectionHeader(.graph)
        header.count = UInt64(graph.count)
        header.graphDegree = UInt64(graph.degree)
        header.entryPoint = UInt64(graph.entryPoint)
        header.payloadBytes = UInt64(graph.neighbors.count * 4)
        return try writeFile(path, pacer: pacer) { file throws(IndexError) in
            try io(path) { () throws(VectorFileError) in
                try file.write(header.encoded())
                try file.write(graph.neighbors.map(\.littleEndian))
            }
        }
    }

    /// `vectors.bin`: a page-sized header, then every row in row order, so that row i is at
    /// 4096 + i × rowBytes (one aligned O_DIRECT read covers it).
    static func writeExactRows(_ rows: VectorMatrix, to path: String, pacer: WritePacer?) throws(IndexError) -> IndexManifest.FileEntry {
        let page = IndexLayout.pageSize
        var header = SectionHeader(.vectors)
        header.headerSize = UInt32(page)
        header.elementType = rows.elementType
        header.dimension = UInt32(rows.dimension)
        header.count = UInt64(rows.count)
        header.rowBytes = UInt64(rows.rowBytes)
        header.payloadBytes = UInt64(rows.byteCount)
        return try writeFile(path, pacer: pacer) { file throws(IndexError) in
            try io(path) { () throws(VectorFileError) in
                try file.write(header.encoded() + [UInt8](repeating: 0, count: page - SectionHeader.size))
                try file.write(rows.rawBytes)
            }
        }
    }

    static func writeIDMap(_ ids: [UInt64], to path: String, pacer: WritePacer?) throws(IndexError) -> IndexManifest.FileEntry {
        var header = SectionHeader(.idMap)
        header.count = UInt64(ids.count)
        header.payloadBytes = UInt64(ids.count * 8)
        return try writeFile(path, pacer: pacer) { file throws(IndexError) in
            try io(path) { () throws(VectorFileError) in
                try file.write(header.encoded())
                try file.write(ids.map(\.littleEndian))
            }
        }
    }

    /// Writes `postings.bin` (lists on page boundaries) and `postings.dir` (where each list is).
    static func writePostings(_ contents: IndexContents, directory: String, pacer: WritePacer?) throws(IndexError) -> [IndexManifest.FileEntry] {
        let vectors = contents.vectors
        let page = IndexLayout.pageSize
        var locations: [PostingLocation] = []
        locations.reserveCapacity(contents.lists.count)
        let postingsPath = IndexLayout.path(IndexLayout.postings, in: directory)
        let totalEntries = contents.lists.reduce(0) { $0 + $1.count }
        let postingsEntry = try writeFile(postingsPath, pacer: pacer) { file throws(IndexError) in
            var header = SectionHeader(.postings)
            header.headerSize = UInt32(page)
            header.elementType = vectors.elementType
            header.dimension = UInt32(vectors.dimension)
            header.count = UInt64(contents.lists.count)
            header.pageSize = UInt64(page)
            header.postingEntries = UInt64(totalEntries)
            var offset = page
            var listBytes = [UInt8]()
            let rowBytes = contents.manifest.postingRowBytes
            let codes = RaBitQListEncoder(contents)
            guard codes != nil || contents.manifest.rabitq == nil else {
                throw IndexError(.inconsistent, path: postingsPath, detail: "RaBitQ postings need the exact rows to encode")
            }
            try io(postingsPath) { () throws(VectorFileError) in
                try file.write(header.encoded() + [UInt8](repeating: 0, count: page - SectionHeader.size))
                for (index, list) in contents.lists.enumerated() {
                    let bytes = list.count * (4 + rowBytes)
                    listBytes.removeAll(keepingCapacity: true)
                    listBytes.reserveCapacity(IndexLayout.align(bytes, to: page))
                    for member in list { withUnsafeBytes(of: member.vector.littleEndian) { listBytes.append(contentsOf: $0) } }
                    if let codes {
                        listBytes.append(contentsOf: codes.entries(ofList: index))
                    } else {
                        for member in list {
                            listBytes.append(contentsOf: UnsafeRawBufferPointer(start: vectors.row(Int(member.vector)), count: vectors.rowBytes))
                        }
                    }
                    let checksum = listBytes.withUnsafeBytes { Checksum.of($0) }
                    listBytes.append(contentsOf: [UInt8](repeating: 0, count: IndexLayout.align(bytes, to: page) - bytes))
                    try file.write(listBytes)
                    locations.append(PostingLocation(offset: Int64(offset), byteCount: bytes, entryCount: list.count, checksum: checksum))
                    offset += listBytes.count
                }
            }
        }
        let directoryPath = IndexLayout.path(IndexLayout.directory, in: directory)
        let directoryEntry = try writeFile(directoryPath) { file throws(IndexError) in
            var header = SectionHeader(.directory)
            header.count = UInt64(locations.count)
            header.postingEntries = UInt64(totalEntries)
            header.payloadBytes = UInt64(locations.count * IndexLayout.directoryEntrySize)
            var bytes = header.encoded()
            bytes.reserveCapacity(SectionHeader.size + locations.count * IndexLayout.directoryEntrySize)
            func append<T: FixedWidthInteger>(_ v: T) { withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) } }
            for location in locations {
                append(UInt64(location.offset))
                append(UInt32(location.byteCount))
                append(UInt32(location.entryCount))
                append(location.checksum)
                append(UInt64(0))
            }
            try io(directoryPath) { () throws(VectorFileError) in try file.write(bytes) }
        }
        return [postingsEntry, directoryEntry]
    }
}

/// RaBitQ entries of an index's lists, encoded a block of lists at a time on every core while
/// the writer writes the block before (one list at a time would leave the encoding, most of a
/// RaBitQ index's write, on one core).
private final class RaBitQListEncoder {
    private let codec: RaBitQCodec
    private let contents: IndexContents
    private let metric: Metric
    private let centroids: VectorMatrix
    private let rows: VectorMatrix
    private var block: Range<Int> = 0..<0
    private var encoded: [[UInt8]] = []
    private static let blockSize = 256

    /// Nil unless `contents` holds RaBitQ postings.
    init?(_ contents: IndexContents) {
        guard let codec = contents.manifest.rabitq, let rows = contents.exactRows else { return nil }
        precondition(contents.centroids.elementType == .float32, "RaBitQ lists are encoded against float32 centroids")
        self.codec = codec
        self.contents = contents
        self.metric = contents.manifest.normalized ? .innerProduct : contents.manifest.metric
        self.centroids = contents.centroids
        self.rows = rows
    }

    /// The entries of list `list`; lists must be asked for in order.
    func entries(ofList list: Int) -> [UInt8] {
        if !block.contains(list) { encodeBlock(from: list) }
        return encoded[list - block.lowerBound]
    }

    private func encodeBlock(from start: Int) {
        block = start..<min(contents.lists.count, start + Self.blockSize)
        var out = [[UInt8]](repeating: [], count: block.count)
        let (codec, lists, centroids, rows, metric, first) = (codec, contents.lists, centroids, rows, metric, block.lowerBound)
        out.withUnsafeMutableBufferPointer { out in
            let shared = UncheckedSendable(out)
            Parallel.forEach(items: block.count, threads: Parallel.coreCount) { i in
                let members = lists[first + i].map(\.vector)
                let bytes = members.withUnsafeBufferPointer { members in
                    codec.encodeList(
                        members: members,
                        vectors: rows,
                        centroid: centroids.row(first + i).assumingMemoryBound(to: Float.self),
                        metric: metric
                    )
                }
                shared.value[i] = bytes
            }
        }
        encoded = out
    }
}
