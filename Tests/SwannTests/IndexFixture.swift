import Foundation
import Swann
import SwannTestSupport

/// An index of the bundled example, built once per test run and shared read-only.
enum IndexFixture {
    static let directory = TestDirectory.make("index-tests")

    /// The bundled example's index at defaults (built once per test run, shared with other targets).
    static var examplePath: String { BundledExample.index }

    /// The bundled example's index with its float16 rows in the postings as given (`--store f16`,
    /// the default before RaBitQ codes), for the code stores to be measured against.
    static let rowsPath: String = {
        let path = directory + "/minilm-10k-rows.swann"
        var options = IndexBuilder.Options()
        options.postings = .rows(nil)
        try! IndexBuilder(options: options).build(from: try! VectorFile(path: BundledExample.base), to: path)
        return path
    }()

    static let queries: VectorMatrix = try! VectorFile(path: BundledExample.queries).readVectors()
    static let truth: NeighborTable = try! VectorFile(path: BundledExample.truth).readNeighbors()

    /// A fresh scratch directory.
    static func scratch() -> String { TestDirectory.make() }

    /// A small random float32 data set written as .fbin.
    static func randomFile(count: Int, dimension: Int, seed: UInt64, in dir: String, name: String = "v.fbin") -> String {
        var rng = SplitMix64(seed: seed)
        // Clustered: 20 random centres with noise, like real embeddings.
        let centres = (0..<20).map { _ in (0..<dimension).map { _ in rng.nextGaussian() } }
        let rows = (0..<count).map { _ in
            let c = centres[Int(rng.next() % 20)]
            return c.map { $0 + 0.3 * rng.nextGaussian() }
        }
        let path = dir + "/" + name
        try! VectorFileWriter.write(try! VectorMatrix.from(rows), to: path)
        return path
    }

    /// 50 small uint8 rows written as .u8bin: input that only 8-bit stores accept.
    static func uint8File(in dir: String) throws -> String {
        let path = dir + "/v.u8bin"
        try VectorFileWriter.write(try VectorMatrix.from((0..<50).map { i in (0..<8).map { Float(($0 + i) % 7) } }, elementType: .uint8), to: path)
        return path
    }

    /// Why opening the index at `path` fails, or nil if it opens.
    static func openFailure(_ path: String) -> String? {
        do {
            _ = try Index.open(at: path)
            return nil
        } catch {
            return "\(error)"
        }
    }
}
