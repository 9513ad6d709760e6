import ArgumentParser
import Swann
@_spi(Engine) import SwannCore

/// Seeded synthetic vectors for scale tests: gaussian clusters (float32, like embeddings) or
/// SIFT-like non-negative uint8 vectors.
struct SyntheticData: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "synth",
        abstract: "Write a seeded synthetic clustered data set (.fbin or .u8bin) and queries."
    )

    enum Kind: String, ExpressibleByArgument { case clustered, sift }

    @Option(help: "clustered (float32 gaussian blobs) or sift (uint8, SIFT-like).")
    var kind: Kind = .clustered
    @Option(help: "Vectors to write.")
    var count = 1_000_000
    @Option(help: "Queries to write (drawn from the same distribution, not copies of base rows).")
    var queries = 10_000
    @Option(help: "Dimension.")
    var dimension = 128
    @Option(help: "Number of clusters.")
    var clusters = 1_000
    @Option(help: "Seed.")
    var seed: UInt64 = 42
    @Option(help: "Output prefix: writes PREFIX.base.fbin|u8bin and PREFIX.queries.fbin|u8bin.")
    var output: String

    func validate() throws {
        guard count >= 1, queries >= 0, dimension >= 1, dimension <= VectorMatrix.maximumDimension, clusters >= 1 else {
            throw ValidationError("counts and dimension must be positive")
        }
    }

    func run() async throws {
        var rng = SplitMix64(seed: seed)
        let elementType: ElementType = kind == .sift ? .uint8 : .float32
        let scale: Float = kind == .sift ? 30 : 1
        let centres = (0..<clusters).map { _ in (0..<dimension).map { _ in rng.nextGaussian() * scale + (kind == .sift ? 60 : 0) } }
        let ext = kind == .sift ? "u8bin" : "fbin"
        for (name, rows) in [("base", count), ("queries", queries)] where rows > 0 {
            let matrix = try VectorMatrix(elementType: elementType, count: rows, dimension: dimension)
            var row = [Float](repeating: 0, count: dimension)
            for i in 0..<rows {
                let centre = centres[Int(rng.next() % UInt64(clusters))]
                for j in 0..<dimension { row[j] = centre[j] + rng.nextGaussian() * 0.35 * scale }
                row.withUnsafeBufferPointer { buffer in
                    ElementConversion.narrow(
                        buffer.baseAddress!,
                        count: dimension,
                        to: elementType,
                        into: matrix.mutableRawBytes.baseAddress! + i * matrix.rowBytes
                    )
                }
            }
            try VectorFileWriter.write(matrix, to: "\(output).\(name).\(ext)")
            print("wrote \(output).\(name).\(ext): \(rows) × \(dimension) \(elementType)")
        }
    }
}
