// libFuzzer targets for everything Swann decodes from outside: TCP frames and message bodies,
// HTTP JSON bodies, vector files and index directories. Built only by `Tools/fuzz` (the target
// exists when SWANN_FUZZ is set), with `-sanitize=fuzzer,address`. SwiftPM links `main` to
// `SwannFuzz_main`, which runs libFuzzer's driver on `LLVMFuzzerTestOneInput`.
// `SWANN_FUZZ_TARGET` picks the target.
//
// A target must never trap, whatever the bytes: every failure is a thrown, typed error. A
// decoded request is also searched on a small index, so limits that let a value through to
// the search path are fuzzed too.
import CSwannFuzz
import Foundation
import NIOCore
import Swann
import SwannProtocol
import SwannServer
import SwannStorage

/// The process entry point (SwiftPM renames `main`): hands control to libFuzzer's driver.
@_cdecl("SwannFuzz_main")
public func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    var argc = argc
    var argv = argv
    return LLVMFuzzerRunDriver(&argc, &argv) { data, size in
        guard let data else { return 0 }
        return fuzzOneInput(data, size)
    }
}

/// Writes the selected target's seed inputs into `SWANN_FUZZ_SEEDS` when that is set (how the
/// committed corpora under Tools/fuzz/corpus were made).
@_cdecl("LLVMFuzzerInitialize")
public func fuzzInitialize(
    _ argc: UnsafeMutablePointer<CInt>,
    _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>
) -> CInt {
    guard let directory = ProcessInfo.processInfo.environment["SWANN_FUZZ_SEEDS"] else { return 0 }
    try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    for (i, seed) in FuzzTarget.selected.seeds().enumerated() {
        FileManager.default.createFile(atPath: directory + "/seed-\(i)", contents: seed)
    }
    return 0
}

/// libFuzzer's callback: feeds one input to the target named by `SWANN_FUZZ_TARGET`.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = UnsafeBufferPointer(start: data, count: size)
    switch FuzzTarget.selected {
    case .frames: FuzzTarget.frames(bytes)
    case .json: FuzzTarget.json(bytes)
    case .vectors: FuzzTarget.vectors(bytes)
    case .index: FuzzTarget.index(bytes)
    case .wal: FuzzTarget.wal(bytes)
    }
    return 0
}

enum FuzzTarget: String, CaseIterable {
    case frames, json, vectors, index, wal

    static let selected: FuzzTarget = {
        let name = ProcessInfo.processInfo.environment["SWANN_FUZZ_TARGET"] ?? ""
        guard let target = FuzzTarget(rawValue: name) else {
            fatalError("set SWANN_FUZZ_TARGET to one of \(allCases.map(\.rawValue).joined(separator: ", "))")
        }
        return target
    }()

    /// Scratch space of this process.
    static let scratch: String = {
        let path = NSTemporaryDirectory() + "swann-fuzz-\(getpid())"
        try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }()

    /// A small l2 index (300 vectors of dimension 8) to search with decoded requests.
    static let searchIndex: Index = {
        let path = scratch + "/search.swann"
        buildIndex(at: path, count: 300, dimension: 8, withIDsAndCodes: false)
        return try! Index.open(at: path)
    }()

    static func buildIndex(at path: String, count: Int, dimension: Int, withIDsAndCodes: Bool) {
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        var rows: [[Float]] = []
        for _ in 0..<count {
            rows.append(
                (0..<dimension).map { _ in
                    state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
                    return Float(state >> 40) / Float(1 << 24)
                }
            )
        }
        let file = scratch + "/rows-\(count)x\(dimension).fbin"
        try! VectorFileWriter.write(try! VectorMatrix.from(rows), to: file)
        var options = IndexBuilder.Options()
        options.overwrite = true
        options.threads = 1
        if withIDsAndCodes {
            options.ids = (0..<UInt64(count)).map { $0 * 7 + 3 }
            options.postings = .rows(.int8)
        }
        try! IndexBuilder(options: options).build(from: try! VectorFile(path: file), to: path)
    }

    static func search(_ vector: [Float], k: Int, overrides: SearchParameters.Overrides) {
        let index = searchIndex
        _ = try? index.searchWithStatistics(vector, k: k, parameters: overrides.applied(to: index.defaultParameters))
    }

    /// Each query of a small batch (larger ones only cost time: the server caps them anyway).
    static func search(_ request: BatchSearchRequest) {
        guard request.dimension > 0, (1...16).contains(request.queryCount) else { return }
        for q in 0..<request.queryCount {
            search(Array(request.vectors[q * request.dimension..<(q + 1) * request.dimension]), k: request.k, overrides: request.overrides)
        }
    }

    /// TCP bytes: frames one at a time, each body decoded as its type's request and response.
    static func frames(_ bytes: UnsafeBufferPointer<UInt8>) {
        var buffer = ByteBuffer(bytes: bytes)
        var decoder = FrameDecoder(maxBodyBytes: 1 << 20)
        while let frame = try? decoder.decode(buffer: &buffer) {
            var body = frame.body
            switch frame.header.type {
            case .search:
                if let request = try? SearchRequest.decode(from: &body) {
                    search(request.vector, k: request.k, overrides: request.overrides)
                }
            case .batchSearch:
                if let request = try? BatchSearchRequest.decode(from: &body) { search(request) }
            case .search.response:
                _ = try? SearchResponse.decode(from: &body)
            case .batchSearch.response:
                _ = try? BatchSearchResponse.decode(from: &body)
            case .upsert:
                _ = try? UpsertRequest.decode(from: &body)
            case .delete:
                _ = try? DeleteRequest.decode(from: &body)
            case .getPoint:
                _ = try? PointMessage.decodeRequest(from: &body)
            case .getPoint.response:
                _ = try? PointMessage.decode(from: &body)
            case .upsert.response, .delete.response:
                _ = try? WriteResponse.decode(from: &body)
            default:
                break
            }
        }
        _ = try? decoder.decodeLast(buffer: &buffer, seenEOF: true)
    }

    /// An HTTP body: the first byte picks the route, the rest is the body.
    static func json(_ bytes: UnsafeBufferPointer<UInt8>) {
        guard let route = bytes.first else { return }
        let body = ByteBuffer(bytes: bytes.dropFirst())
        switch route % 4 {
        case 0:
            if let request = try? HTTPAPI.decodeJSON(SearchBody.self, from: body).request {
                search(request.vector, k: request.k, overrides: request.overrides)
            }
        case 1:
            if let request = try? HTTPAPI.decodeJSON(BatchSearchBody.self, from: body).request { search(request) }
        case 2:
            _ = try? HTTPAPI.decodeJSON(UpsertBody.self, from: body)
        default:
            _ = try? HTTPAPI.decodeJSON(DeleteBody.self, from: body)
        }
    }

    /// A write-ahead log file of an index of dimension 8, as recovery reads it.
    static func wal(_ bytes: UnsafeBufferPointer<UInt8>) {
        _ = try? LogFormat.decode(UnsafeRawBufferPointer(bytes), dimension: 8, path: "wal.log")
    }

    static let vectorExtensions = ["npy", "fvecs", "bvecs", "ivecs", "fbin", "u8bin", "i8bin", "ibin"]

    /// A vector file: the first byte picks the format (by extension), the rest is the file.
    static func vectors(_ bytes: UnsafeBufferPointer<UInt8>) {
        guard let selector = bytes.first else { return }
        let ext = vectorExtensions[Int(selector) % vectorExtensions.count]
        let path = scratch + "/input." + ext
        FileManager.default.createFile(atPath: path, contents: Data(bytes.dropFirst()))
        guard let file = try? VectorFile(path: path) else { return }
        // Bounded reads only: a valid header may announce more rows than memory holds.
        _ = try? file.readVectors(rows: 0..<min(file.count, 64))
        if file.count <= 4_096 {
            _ = try? file.readNeighbors()
            _ = try? file.readIDs()
        }
    }

    /// The files of a small index, with ids and int8 codes so every file exists.
    static let indexFiles: (path: String, originals: [(name: String, bytes: Data)]) = {
        let path = scratch + "/open.swann"
        buildIndex(at: path, count: 200, dimension: 4, withIDsAndCodes: true)
        let names = try! FileManager.default.contentsOfDirectory(atPath: path).sorted()
        return (path, names.map { ($0, FileManager.default.contents(atPath: path + "/" + $0)!) })
    }()

    /// An index directory: the first byte picks one of its files, the rest replaces it; then
    /// the index is opened, warmed and searched, and the file restored.
    static func index(_ bytes: UnsafeBufferPointer<UInt8>) {
        guard let selector = bytes.first else { return }
        let (path, originals) = indexFiles
        let victim = originals[Int(selector) % originals.count]
        FileManager.default.createFile(atPath: path + "/" + victim.name, contents: Data(bytes.dropFirst()))
        defer { FileManager.default.createFile(atPath: path + "/" + victim.name, contents: victim.bytes) }
        for io in [Index.IOMode.pread, .mmap] {
            guard let index = try? Index.open(at: path, options: .init(io: io)) else { return }
            try? index.warmUp(queries: 2)
            _ = try? index.search([0.5, 0.25, 0.75, 0.1], k: 5)
        }
    }

    /// Valid inputs to start from.
    func seeds() -> [Data] {
        switch self {
        case .frames:
            let query: [Float] = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8]
            var search = ByteBuffer()
            var batch = ByteBuffer()
            SearchRequest(vector: query, k: 5, overrides: .init(maxPostings: 4, searchCandidates: 8, maxDistanceRatio: 2, disablePruning: false))
                .encode(into: &search)
            BatchSearchRequest(vectors: query + query, dimension: 8, k: 3).encode(into: &batch)
            var response = ByteBuffer()
            SearchResponse(neighbors: [Neighbor(id: 1, distance: 0.5)], statistics: SearchStatistics()).encode(into: &response)
            let frames = [
                Frame(type: .hello, requestID: 1, body: ByteBuffer(string: "key")),
                Frame(type: .search, requestID: 2, body: search),
                Frame(type: .batchSearch, requestID: 3, body: batch),
                Frame(type: FrameType.search.response, requestID: 4, body: response),
                Frame(type: .ping, requestID: 5, body: ByteBuffer()),
            ]
            var all = ByteBuffer()
            for frame in frames {
                var encoded = frame.encoded()
                all.writeBuffer(&encoded)
            }
            return frames.map { Data($0.encoded().readableBytesView) } + [Data(all.readableBytesView)]
        case .json:
            return [
                "\u{0}{\"vector\": [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8], \"k\": 3, \"params\": {\"max_postings\": 4}}",
                "\u{0}{\"query\": [1, 2, 3, 4, 5, 6, 7, 8], \"limit\": 2, \"with_stats\": true, \"params\": {\"max_distance_ratio\": null}}",
                "\u{1}{\"queries\": [[1, 2, 3, 4, 5, 6, 7, 8], [8, 7, 6, 5, 4, 3, 2, 1]], \"k\": 2}",
                "\u{2}{\"points\": [{\"id\": 7, \"vector\": [1, 2, 3, 4, 5, 6, 7, 8]}]}",
                "\u{3}{\"points\": [7, 8, 18446744073709551615]}",
            ].map { Data($0.utf8) }
        case .vectors:
            let rows = try! VectorMatrix.from([[1, 2, 3], [4, 5, 6]])
            return FuzzTarget.vectorExtensions.enumerated().compactMap { i, ext in
                let path = FuzzTarget.scratch + "/seed." + ext
                // ivecs/ibin hold neighbour ids: the writer may refuse float rows there.
                guard (try? VectorFileWriter.write(rows, to: path)) != nil,
                    let data = FileManager.default.contents(atPath: path)
                else { return nil }
                return Data([UInt8(i)]) + data
            }
        case .index:
            return FuzzTarget.indexFiles.originals.enumerated().map { i, file in Data([UInt8(i)]) + file.bytes }
        case .wal:
            var log = LogFormat.fileHeader(dimension: 8)
            LogFormat.encode(.upsert(ids: [1, 2], vectors: (0..<16).map(Float.init)), dimension: 8, into: &log)
            LogFormat.encode(.delete(ids: [2, 9]), dimension: 8, into: &log)
            return [Data(LogFormat.fileHeader(dimension: 8)), Data(log)]
        }
    }
}
