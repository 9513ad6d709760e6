import ArgumentParser
import Foundation
import Swann

struct InfoCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "info",
        abstract: "Describe a vector file: count, dimension, element type, size, value and norm statistics.")

    @Argument(help: "A vector file (or, once indexes exist, an index directory).")
    var path: String
    @Option(help: "Read the file as this format instead of guessing from the extension.")
    var format: VectorFileFormat?
    @Flag(help: "Print JSON instead of text.")
    var json = false

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
            writeError("swann info: '\(path)' is a directory; index directories are described once the index builder lands.")
            throw ExitCode.failure
        }
        let file = try VectorFile(path: path, format: format)
        var report = Report(
            path: path, format: file.layout.format.rawValue, elementType: file.layout.scalar.rawValue,
            count: file.count, dimension: file.dimension, fileBytes: file.layout.fileSize,
            payloadBytes: file.layout.payloadBytes)
        if file.layout.scalar == .int32 {
            let table = try file.readNeighbors()
            report.minimumId = table.ids.min()
            report.maximumId = table.ids.max()
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
