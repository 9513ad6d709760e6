import Foundation
@_spi(Engine) package import SwannCore
import SystemPackage

/// The in-memory part of an opened index: everything but the posting lists.
package struct IndexHeader: Sendable {
    package var manifest: IndexManifest
    /// Row number (internal id) of each centroid.
    package var centroidRows: [UInt32]
    package var centroids: VectorMatrix
    package var graph: CentroidGraph
    /// Where each posting list is.
    package var directory: [PostingLocation]
    /// User ids by internal id, when the index has them.
    package var idMap: [UInt64]?
}

/// Opens an index directory and verifies everything it loads into memory: headers, sizes
/// (overflow-checked), checksums of every small file, and the posting directory's bounds.
/// The posting file is verified list by list as lists are read (`FilePostingStore`), or as a whole
/// by `verifyPostings`.
package enum IndexReader {
    /// Loads and verifies the manifest, centroids, graph, posting directory and id map.
    package static func open(_ path: String) throws(IndexError) -> IndexHeader {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw IndexError(.missing, path: path, detail: "no index here")
        }
        guard isDirectory.boolValue else {
            throw IndexError(.invalidInput, path: path, detail: "not an index directory (a file; was a vector file meant?)")
        }
        let manifest = try readManifest(path)
        let centroidFile = try load(path, IndexLayout.centroids, manifest: manifest)
        let (centroidRows, centroids) = try decodeCentroids(centroidFile, path: IndexLayout.path(IndexLayout.centroids, in: path), manifest: manifest)
        let graph = try decodeGraph(
            try load(path, IndexLayout.graph, manifest: manifest),
            path: IndexLayout.path(IndexLayout.graph, in: path),
            nodes: centroids.count
        )
        let directory = try decodeDirectory(
            try load(path, IndexLayout.directory, manifest: manifest),
            path: IndexLayout.path(IndexLayout.directory, in: path),
            manifest: manifest,
            postingsBytes: try postingsSize(path, manifest: manifest)
        )
        if manifest.hasExactRows { try checkExactRows(path, manifest: manifest) }
        var idMap: [UInt64]?
        if manifest.hasIDMap {
            idMap = try decodeIDMap(
                try load(path, IndexLayout.idMap, manifest: manifest),
                path: IndexLayout.path(IndexLayout.idMap, in: path),
                count: manifest.vectorCount
            )
        }
        return IndexHeader(manifest: manifest, centroidRows: centroidRows, centroids: centroids, graph: graph, directory: directory, idMap: idMap)
    }

    static func readManifest(_ path: String) throws(IndexError) -> IndexManifest {
        let file = IndexLayout.path(IndexLayout.manifest, in: path)
        guard let data = FileManager.default.contents(atPath: file) else {
            throw IndexError(.missing, path: file, detail: "missing or unreadable: not a Swann index, or an incomplete one")
        }
        // Check the version before decoding the rest, so a newer index gets a clear message.
        struct Version: Decodable { var formatVersion: Int }
        guard let version = try? JSONDecoder().decode(Version.self, from: data) else {
            throw IndexError(.inconsistent, path: file, detail: "not a valid manifest (malformed JSON or no formatVersion)")
        }
        guard IndexManifest.readableFormatVersions.contains(version.formatVersion) else {
            throw IndexError(
                .unsupportedVersion,
                path: file,
                detail:
                    "index format version \(version.formatVersion) is not supported by this build (reads versions \(IndexManifest.readableFormatVersions.map(String.init).joined(separator: " and ")))"
            )
        }
        do {
            let manifest = try JSONDecoder().decode(IndexManifest.self, from: data)
            guard manifest.dimension >= 1, manifest.dimension <= VectorMatrix.maximumDimension,
                manifest.vectorCount >= 1, manifest.vectorCount <= Int(UInt32.max), manifest.centroidCount >= 1,
                manifest.centroidCount <= manifest.vectorCount
            else {
                throw IndexError(.inconsistent, path: file, detail: "counts or dimension out of range")
            }
            let quantized = manifest.formatVersion == IndexManifest.quantizedFormatVersion
            guard quantized == (manifest.quantization != nil), !quantized || manifest.elementType == .int8 else {
                throw IndexError(
                    .inconsistent,
                    path: file,
                    detail: "format version \(manifest.formatVersion) does not match its quantization field (int8 codes need version 2 and a step)"
                )
            }
            let coded = manifest.formatVersion == IndexManifest.rabitqFormatVersion
            guard coded == (manifest.rabitq != nil),
                !coded
                    || (manifest.elementType == .float32 && manifest.rabitq?.dimension == manifest.dimension
                        && (manifest.metric != .cosine || manifest.normalized))
            else {
                throw IndexError(
                    .inconsistent,
                    path: file,
                    detail:
                        "format version \(manifest.formatVersion) does not match its rabitq field (RaBitQ codes need version 3, float32 rows and a codec of the index's dimension)"
                )
            }
            if let step = manifest.quantization?.step, !(step.isFinite && step > 0) {
                throw IndexError(.inconsistent, path: file, detail: "quantization step \(step) is not a positive number")
            }
            if let expected = manifest.manifestChecksum {
                let computed = try manifest.computedChecksum()
                guard computed == expected else {
                    throw IndexError(
                        .checksumMismatch,
                        path: file,
                        detail: "checksum \(computed) does not match the recorded \(expected): the manifest was altered or is corrupt"
                    )
                }
            }
            if let unknown = try unknownField(in: data, decoded: manifest) {
                throw IndexError(.inconsistent, path: file, detail: "unknown field \(unknown) (a corrupt key, or written by a newer Swann)")
            }
            return manifest
        } catch let error as IndexError {
            throw error
        } catch {
            throw IndexError(.inconsistent, path: file, detail: "cannot decode the manifest: \(error)")
        }
    }

    static func verifyFile(_ path: String, entry: IndexManifest.FileEntry) throws(IndexError) {
        let descriptor: FileDescriptor
        do { descriptor = try FileDescriptor.open(FilePath(path), .readOnly, options: [.closeOnExec]) } catch {
            throw IndexError(.missing, path: path, detail: "listed in the manifest but cannot be opened: \(error)")
        }
        defer { try? descriptor.close() }
        let (bytes, checksum) = try FileChecksum.compute(descriptor: descriptor, path: path)
        guard bytes == entry.bytes else {
            throw IndexError(.truncated, path: path, offset: min(bytes, entry.bytes), detail: "expected \(entry.bytes) bytes, found \(bytes)")
        }
        guard FileChecksum.hex(checksum) == entry.checksum else {
            throw IndexError(
                .checksumMismatch,
                path: path,
                detail: "checksum \(FileChecksum.hex(checksum)) does not match the manifest's \(entry.checksum): the file is corrupt"
            )
        }
    }

    /// A key of the manifest file that decoding ignored, as a dotted path: a byte flipped inside
    /// a key name (say `manifestChecksum`) would otherwise drop that field without a word.
    static func unknownField(in data: Data, decoded: IndexManifest) throws -> String? {
        let known = try JSONSerialization.jsonObject(with: try JSONEncoder().encode(decoded))
        let found = try JSONSerialization.jsonObject(with: data)
        func firstUnknown(_ found: Any, _ known: Any, path: String) -> String? {
            if let found = found as? [String: Any] {
                let known = known as? [String: Any] ?? [:]
                for key in found.keys.sorted() {
                    guard let next = known[key] else { return path + key }
                    if let deeper = firstUnknown(found[key]!, next, path: path + key + ".") { return deeper }
                }
            } else if let found = found as? [Any], let known = known as? [Any] {
                for (i, element) in found.enumerated() where i < known.count {
                    if let deeper = firstUnknown(element, known[i], path: path + "[\(i)].") { return deeper }
                }
            }
            return nil
        }
        return firstUnknown(found, known, path: "")
    }

    /// Verifies the whole posting file against the manifest (slow: reads every byte).
    package static func verifyPostings(_ path: String, manifest: IndexManifest) throws(IndexError) {
        guard let entry = manifest.file(IndexLayout.postings) else {
            throw IndexError(.inconsistent, path: IndexLayout.path(IndexLayout.manifest, in: path), detail: "does not list \(IndexLayout.postings)")
        }
        try verifyFile(IndexLayout.path(IndexLayout.postings, in: path), entry: entry)
    }

    /// Reads a whole file of the index once and checks its size and checksum against the manifest.
    static func load(_ path: String, _ name: String, manifest: IndexManifest) throws(IndexError) -> [UInt8] {
        let file = IndexLayout.path(name, in: path)
        guard let entry = manifest.file(name) else {
            throw IndexError(.inconsistent, path: IndexLayout.path(IndexLayout.manifest, in: path), detail: "does not list \(name)")
        }
        guard let data = FileManager.default.contents(atPath: file) else {
            throw IndexError(.missing, path: file, detail: "listed in the manifest but missing or unreadable")
        }
        let bytes = Array(data)
        guard Int64(bytes.count) == entry.bytes else {
            throw IndexError(
                .truncated,
                path: file,
                offset: min(Int64(bytes.count), entry.bytes),
                detail: "expected \(entry.bytes) bytes, found \(bytes.count)"
            )
        }
        let checksum = FileChecksum.hex(FileChecksum.compute(bytes))
        guard checksum == entry.checksum else {
            throw IndexError(
                .checksumMismatch,
                path: file,
                detail: "checksum \(checksum) does not match the manifest's \(entry.checksum): the file is corrupt"
            )
        }
        return bytes
    }

    /// Checks `vectors.bin`'s size, header and whole-file checksum. Its rows decide the final
    /// ranking of an int8 index, and the code check at re-ranking catches only changes beyond
    /// half a quantisation step (a flipped low byte once changed answers silently), so every
    /// byte is verified at open: one streaming pass, ~20 ms for minilm-100k's 150 MB.
    static func checkExactRows(_ path: String, manifest: IndexManifest) throws(IndexError) {
        let file = IndexLayout.path(IndexLayout.vectors, in: path)
        guard let entry = manifest.file(IndexLayout.vectors) else {
            throw IndexError(.inconsistent, path: IndexLayout.path(IndexLayout.manifest, in: path), detail: "does not list \(IndexLayout.vectors)")
        }
        let descriptor: FileDescriptor
        do { descriptor = try FileDescriptor.open(FilePath(file), .readOnly, options: [.closeOnExec]) } catch {
            throw IndexError(.missing, path: file, detail: "listed in the manifest but cannot be opened: \(error)")
        }
        defer { try? descriptor.close() }
        let size = (try? descriptor.seek(offset: 0, from: .end)) ?? -1
        guard size == entry.bytes else {
            throw IndexError(.truncated, path: file, offset: max(0, min(size, entry.bytes)), detail: "expected \(entry.bytes) bytes, found \(size)")
        }
        var head = [UInt8](repeating: 0, count: SectionHeader.size)
        let n = try? head.withUnsafeMutableBytes { try descriptor.read(fromAbsoluteOffset: 0, into: $0) }
        guard n == SectionHeader.size else { throw IndexError(.truncated, path: file, offset: 0, detail: "no header") }
        let decoded = head.withUnsafeBytes { raw in
            Result { () throws(IndexError) in try SectionHeader.decode(raw, expected: .vectors, path: file) }
        }
        let h = try decoded.get()
        let rowBytes = manifest.dimension * 4
        guard h.elementType == .float32, Int(h.dimension) == manifest.dimension, h.count == UInt64(manifest.vectorCount),
            h.headerSize == UInt32(IndexLayout.pageSize), h.rowBytes == UInt64(rowBytes),
            h.payloadBytes == UInt64(manifest.vectorCount) * UInt64(rowBytes),
            UInt64(size) == UInt64(IndexLayout.pageSize) + h.payloadBytes
        else {
            throw IndexError(.inconsistent, path: file, offset: 16, detail: "header disagrees with the manifest (type, dimension, count or size)")
        }
        let (_, sum) = try FileChecksum.compute(descriptor: descriptor, path: file)
        guard FileChecksum.hex(sum) == entry.checksum else {
            throw IndexError(
                .checksumMismatch,
                path: file,
                detail: "checksum \(FileChecksum.hex(sum)) does not match the manifest's \(entry.checksum): the file is corrupt"
            )
        }
    }

    static func postingsSize(_ path: String, manifest: IndexManifest) throws(IndexError) -> Int64 {
        let file = IndexLayout.path(IndexLayout.postings, in: path)
        guard let entry = manifest.file(IndexLayout.postings) else {
            throw IndexError(.inconsistent, path: IndexLayout.path(IndexLayout.manifest, in: path), detail: "does not list \(IndexLayout.postings)")
        }
        guard let attributes = try? FileManager.default.attributesOfItem(atPath: file), let size = attributes[.size] as? Int64 else {
            throw IndexError(.missing, path: file, detail: "missing or unreadable")
        }
        guard size == entry.bytes else {
            throw IndexError(.truncated, path: file, offset: min(size, entry.bytes), detail: "expected \(entry.bytes) bytes, found \(size)")
        }
        return size
    }

    static func header(_ bytes: [UInt8], section: SectionHeader.Section, path: String) throws(IndexError) -> SectionHeader {
        let result = bytes.withUnsafeBytes { raw in
            Result { () throws(IndexError) in try SectionHeader.decode(raw, expected: section, path: path) }
        }
        let header = try result.get()
        guard UInt64(bytes.count) == UInt64(header.headerSize) + header.payloadBytes else {
            throw IndexError(
                .truncated,
                path: path,
                offset: Int64(min(UInt64(bytes.count), UInt64(header.headerSize) + header.payloadBytes)),
                detail: "expected \(UInt64(header.headerSize) + header.payloadBytes) bytes, found \(bytes.count)"
            )
        }
        return header
    }

    static func decodeCentroids(_ bytes: [UInt8], path: String, manifest: IndexManifest) throws(IndexError) -> ([UInt32], VectorMatrix) {
        let h = try header(bytes, section: .centroids, path: path)
        let elementType = manifest.centroidElementType
        guard h.elementType == elementType, Int(h.dimension) == manifest.dimension, h.count == UInt64(manifest.centroidCount) else {
            throw IndexError(.inconsistent, path: path, offset: 16, detail: "header disagrees with the manifest (type, dimension or count)")
        }
        let count = manifest.centroidCount
        let matrix: VectorMatrix
        do { matrix = try VectorMatrix(elementType: elementType, count: count, dimension: manifest.dimension) } catch {
            throw IndexError(.inconsistent, path: path, detail: error.description)
        }
        let rowsBytes = IndexLayout.align(count * 4, to: 64)
        guard h.payloadBytes == UInt64(rowsBytes + matrix.byteCount), h.rowBytes == UInt64(matrix.rowBytes) else {
            throw IndexError(.inconsistent, path: path, offset: 48, detail: "payload size does not match \(count) centroids")
        }
        var rows = [UInt32](repeating: 0, count: count)
        bytes.withUnsafeBytes { raw in
            for i in 0..<count { rows[i] = UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: 64 + i * 4, as: UInt32.self)) }
            matrix.mutableRawBytes.copyMemory(from: UnsafeRawBufferPointer(rebasing: raw[(64 + rowsBytes)...]))
        }
        // UInt32.max: the centroid's row was deleted by a write before a checkpoint (the centroid
        // itself stays: it is a point in space, not a vector of the data).
        if let bad = rows.firstIndex(where: { Int($0) >= manifest.vectorCount && $0 != IndexLayout.noRow }) {
            throw IndexError(
                .inconsistent,
                path: path,
                offset: Int64(64 + bad * 4),
                detail: "centroid \(bad) names row \(rows[bad]) ≥ \(manifest.vectorCount)"
            )
        }
        return (rows, matrix)
    }

    static func decodeGraph(_ bytes: [UInt8], path: String, nodes: Int) throws(IndexError) -> CentroidGraph {
        let h = try header(bytes, section: .graph, path: path)
        let (slots, overflow) = Int(h.count).multipliedReportingOverflow(by: Int(h.graphDegree))
        guard h.count == UInt64(nodes), !overflow, h.payloadBytes == UInt64(slots) * 4 else {
            throw IndexError(
                .inconsistent,
                path: path,
                offset: 24,
                detail: "graph of \(h.count) nodes × degree \(h.graphDegree) does not match \(nodes) centroids"
            )
        }
        let neighbors = bytes.withUnsafeBytes { raw in
            (0..<slots).map { UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: 64 + $0 * 4, as: UInt32.self)) }
        }
        do { return try CentroidGraph(degree: Int(h.graphDegree), count: nodes, entryPoint: Int(h.entryPoint), neighbors: neighbors) } catch {
            throw IndexError(.inconsistent, path: path, detail: error.description)
        }
    }

    static func decodeDirectory(_ bytes: [UInt8], path: String, manifest: IndexManifest, postingsBytes: Int64) throws(IndexError) -> [PostingLocation]
    {
        let h = try header(bytes, section: .directory, path: path)
        let count = manifest.centroidCount
        guard h.count == UInt64(count), h.payloadBytes == UInt64(count * IndexLayout.directoryEntrySize) else {
            throw IndexError(.inconsistent, path: path, offset: 24, detail: "expected \(count) lists, found \(h.count)")
        }
        let rowBytes = manifest.postingRowBytes
        var locations: [PostingLocation] = []
        locations.reserveCapacity(count)
        var total = 0
        for i in 0..<count {
            let at = 64 + i * IndexLayout.directoryEntrySize
            let location = bytes.withUnsafeBytes { raw in
                PostingLocation(
                    offset: Int64(bitPattern: UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: at, as: UInt64.self))),
                    byteCount: Int(UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: at + 8, as: UInt32.self))),
                    entryCount: Int(UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: at + 12, as: UInt32.self))),
                    checksum: UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: at + 16, as: UInt64.self))
                )
            }
            guard location.offset >= Int64(IndexLayout.pageSize), location.offset % Int64(IndexLayout.pageSize) == 0,
                location.byteCount == location.entryCount * (4 + rowBytes),
                location.offset + Int64(IndexLayout.align(location.byteCount, to: IndexLayout.pageSize)) <= postingsBytes
            else {
                throw IndexError(
                    .inconsistent,
                    path: path,
                    offset: Int64(at),
                    detail:
                        "list \(i) (offset \(location.offset), \(location.byteCount) bytes, \(location.entryCount) entries) is not a valid page-aligned extent of \(IndexLayout.postings)"
                )
            }
            total += location.entryCount
            locations.append(location)
        }
        guard total == manifest.postingEntryCount else {
            throw IndexError(.inconsistent, path: path, detail: "lists hold \(total) entries, the manifest says \(manifest.postingEntryCount)")
        }
        return locations
    }

    static func decodeIDMap(_ bytes: [UInt8], path: String, count: Int) throws(IndexError) -> [UInt64] {
        let h = try header(bytes, section: .idMap, path: path)
        guard h.count == UInt64(count), h.payloadBytes == UInt64(count) * 8 else {
            throw IndexError(.inconsistent, path: path, offset: 24, detail: "expected \(count) ids, found \(h.count)")
        }
        return bytes.withUnsafeBytes { raw in
            (0..<count).map { UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: 64 + $0 * 8, as: UInt64.self)) }
        }
    }
}
