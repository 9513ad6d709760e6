import ArgumentParser
import Foundation
import Swann
@_spi(Engine) import SwannCore

struct InfoCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "info",
        abstract: "Describe a vector file: count, dimension, element type, size, value and norm statistics."
    )

    @Argument(help: "An index directory or a vector file.")
    var path: String
    @Option(help: "Read the file as this format instead of guessing from the extension.")
    var format: VectorFileFormat?
    @Flag(help: "Print JSON instead of text.")
    var json = false
    @Flag(
        help:
            "For an index: read every posting list and check every checksum and that every vector is in a list (slow; exits 1 on any fault)."
    )
    var verify = false

    func validate() throws { try requireExisting(path, what: "file") }

    struct Report: Codable {
        var path: String
        var format: String
        var elementType: String
        var count: Int
        var dimension: Int
        var fileBytes: Int64
        var payloadBytes: Int
        var statistics: VectorStatistics?
        var minimumId: Int64?
        var maximumId: Int64?
    }

    func run() async throws {
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue {
            try describeIndex()
            return
        }
        let file = try VectorFile(path: path, format: format)
        var report = Report(
            path: path,
            format: file.layout.format.rawValue,
            elementType: file.layout.scalar.rawValue,
            count: file.count,
            dimension: file.dimension,
            fileBytes: file.layout.fileSize,
            payloadBytes: file.layout.payloadBytes
        )
        if file.layout.scalar.elementType == nil {
            let ids = file.layout.scalar == .int32 ? try file.readNeighbors().ids : try file.readIDs().map { Int64(bitPattern: $0) }
            report.minimumId = ids.min()
            report.maximumId = ids.max()
        } else {
            var statistics = VectorStatistics()
            try file.forEachChunk(rowsPerChunk: max(1, (64 << 20) / max(1, file.layout.rowStride))) { chunk, _ in
                statistics.add(chunk)
            }
            report.statistics = statistics
        }
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            print(String(decoding: try encoder.encode(report), as: UTF8.self))
        } else {
            printText(report)
        }
    }

    struct IndexReport: Encodable {
        var path: String
        var manifest: IndexManifest
        var servingMemoryBytes: Int
        var diskBytes: [String: Int64]
        var copiesPerVector: Double
        /// Posting lengths: `[upper bound of bucket, lists]` in powers of two.
        var postingLengthHistogram: [[Int]]
        var postingLength: [String: Double]
    }

    private func describeIndex() throws {
        let index = try Index.open(at: path)
        if verify {
            let clock = ContinuousClock()
            let started = clock.now
            let verified = try index.verify()
            print(
                "verified \(path): \(verified.lists) lists, \(verified.entries) entries, all \(verified.vectors) vectors in a list, every checksum matches (\(String(format: "%.2f", (clock.now - started).seconds)) s)"
            )
            return
        }
        let m = index.manifest
        let lengths = index.postingLengths
        var buckets: [Int: Int] = [:]
        for length in lengths {
            var bound = 1
            while bound < length { bound *= 2 }
            buckets[bound, default: 0] += 1
        }
        let sorted = lengths.sorted()
        let report = IndexReport(
            path: path,
            manifest: m,
            servingMemoryBytes: index.residentBytes,
            diskBytes: Dictionary(uniqueKeysWithValues: m.files.map { ($0.name, $0.bytes) }),
            copiesPerVector: Double(m.postingEntryCount) / Double(m.vectorCount),
            postingLengthHistogram: buckets.keys.sorted().map { [$0, buckets[$0]!] },
            postingLength: [
                "min": Double(sorted.first ?? 0), "p50": Double(sorted[sorted.count / 2]),
                "p99": Double(sorted[min(sorted.count - 1, sorted.count * 99 / 100)]), "max": Double(sorted.last ?? 0),
                "mean": Double(m.postingEntryCount) / Double(max(1, lengths.count)),
            ]
        )
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            print(String(decoding: try encoder.encode(report), as: UTF8.self))
            return
        }
        print("index:          \(path) (format \(m.formatVersion), written by \(m.writer))")
        print(
            "vectors:        \(m.vectorCount) × \(m.dimension) \(m.elementType) (input \(m.inputElementType)), metric \(m.metric)\(m.normalized ? ", normalised" : "")"
        )
        let store =
            m.rabitq.map { "RaBitQ codes (\($0.paddedDimension) bits + 3 float32 factors)" }
            ?? (m.quantization != nil ? "int8 codes" : "\(m.elementType) rows")
        print(
            "postings:       \(store), \(m.postingRowBytes + 4) bytes an entry with its id\(m.hasExactRows ? "; exact float32 rows in vectors.bin" : "")"
        )
        if m.shard.count > 1 { print("shard:          \(m.shard.index) of \(m.shard.count)") }
        print("centroids:      \(m.centroidCount) (\(String(format: "%.1f", 100 * Double(m.centroidCount) / Double(m.vectorCount)))% of vectors)")
        print("serving memory: \(formatBytes(Int64(report.servingMemoryBytes))) (centroids, graph, posting directory, id map)")
        for file in m.files { print("  \(file.name.padding(toLength: 14, withPad: " ", startingAt: 0)) \(formatBytes(file.bytes))") }
        print(
            String(format: "copies:         %.2f per vector; ", report.copiesPerVector)
                + m.copyHistogram.enumerated().filter { $0.element > 0 }.map { "\($0.offset)×: \($0.element)" }.joined(separator: ", ")
        )
        if m.replicasDroppedByLimit > 0 {
            print("posting cap:    \(m.replicasDroppedByLimit) replicas dropped at \(m.build.assignment.postingLimit) entries")
        }
        print(
            String(
                format: "posting length: min %.0f, p50 %.0f, mean %.1f, p99 %.0f, max %.0f",
                report.postingLength["min"]!,
                report.postingLength["p50"]!,
                report.postingLength["mean"]!,
                report.postingLength["p99"]!,
                report.postingLength["max"]!
            )
        )
        if let r = m.rebalanced {
            print(
                "rebalanced:     \(r.splits) splits, \(r.merges) merges, \(r.movedVectors) vectors reassigned (\(r.checkedVectors) checked) in \(r.rounds) rounds since the build"
            )
        }
        if let c = m.recallCalibration, !c.points.isEmpty {
            let steps = c.points.map { "\($0.maxPostings): \(String(format: "%.3f", $0.recall))" }.joined(separator: ", ")
            print("recall@\(c.k) by lists read (\(c.sampleSize) of its own vectors): \(steps)")
        }
        if let log = try? FileManager.default.attributesOfItem(atPath: path + "/wal.log")[.size] as? Int, log > 64 {
            print("write log:      \(formatBytes(Int64(log))) of writes not yet checkpointed (`swann compact` folds them in)")
        }
        print("histogram:      " + report.postingLengthHistogram.map { "≤\($0[0]): \($0[1])" }.joined(separator: ", "))
        let b = m.build
        print(
            "build:          centroid ratio \(b.heads.centroidRatio), replicas \(b.assignment.replicaCount), closure ε \(b.assignment.closureEpsilon), RNG factor \(b.assignment.rngFactor), posting limit \(b.assignment.postingLimit), graph degree \(b.graph.degree), seed \(b.heads.seed)"
        )
        let s = m.searchDefaults
        print(
            "search:         max postings \(s.maxPostings), search candidates \(s.searchCandidates), max distance ratio \(s.maxDistanceRatio.map { "\($0)" } ?? "off")"
        )
    }

    private func printText(_ r: Report) {
        print("file:          \(r.path) (\(r.format))")
        print("vectors:       \(r.count)")
        print("dimension:     \(r.dimension)")
        print("element type:  \(r.elementType)")
        print("bytes:         \(r.fileBytes) on disk, \(r.payloadBytes) of components (\(formatBytes(Int64(r.payloadBytes))))")
        if let s = r.statistics {
            print(String(format: "values:        min %.6g  max %.6g  mean %.6g", s.minimumValue, s.maximumValue, s.meanValue))
            print(String(format: "norms:         min %.6g  max %.6g  mean %.6g", s.minimumNorm, s.maximumNorm, s.meanNorm))
            print("non-finite:    \(s.nonFiniteValues) values in \(s.nonFiniteRows) rows")
        }
        if let low = r.minimumId, let high = r.maximumId {
            print("ids:           \(low)...\(high)")
        }
    }
}

/// `1.5 MiB`-style sizes for people.
func formatBytes(_ bytes: Int64) -> String {
    let units = ["B", "KiB", "MiB", "GiB", "TiB"]
    var value = Double(bytes)
    var unit = 0
    while value >= 1024, unit < units.count - 1 {
        value /= 1024
        unit += 1
    }
    return unit == 0 ? "\(bytes) B" : String(format: "%.1f %@", value, units[unit])
}
