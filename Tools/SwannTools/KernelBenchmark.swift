import ArgumentParser
import Foundation
import Swann
@_spi(Engine) import SwannCore

/// Distance-kernel throughput: ns per distance and GB/s of vector data, per element type and
/// dimension, with the rows resident in cache (the kernel's own speed, not memory bandwidth).
struct KernelBenchmark: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kernels",
        abstract: "Measure distance-kernel throughput (ns/distance, GB/s)."
    )

    @Option(parsing: .upToNextOption, help: "Dimensions to measure.")
    var dimensions: [Int] = [128, 384, 768]
    @Option(help: "Seconds to spend per configuration.")
    var seconds = 0.3
    @Flag(help: "Print JSON lines.")
    var json = false

    func run() async throws {
        if !json { print("kernel              dim   ns/distance      GB/s") }
        for metric in [Metric.l2, .innerProduct, .cosine] {
            for elementType in ElementType.allCases {
                for dimension in dimensions {
                    let (ns, gbps) = measure(metric: metric, elementType: elementType, dimension: dimension)
                    let name = "\(metric)/\(elementType)"
                    if json {
                        print(
                            #"{"metric":"\#(metric)","element_type":"\#(elementType)","dimension":\#(dimension),"ns_per_distance":\#(ns),"gb_per_s":\#(gbps)}"#
                        )
                    } else {
                        print(String(format: "%-18@ %4d   %10.1f   %8.2f", name, dimension, ns, gbps))
                    }
                }
            }
        }
    }

    private func measure(metric: Metric, elementType: ElementType, dimension: Int) -> (Double, Double) {
        var rng = SplitMix64(seed: 7)
        let rows = max(64, (256 << 10) / (dimension * elementType.byteWidth))  // ~256 KiB: stays in L2
        let scale: Float = elementType.isInteger ? 100 : 1
        let data = (0..<rows).map { _ in (0..<dimension).map { _ in rng.nextGaussian() * scale } }
        let matrix = try! VectorMatrix.from(data, elementType: elementType)
        return Distance.dispatch(
            metric: metric,
            elementType: elementType,
            to: Timer(matrix: matrix, seconds: seconds)
        )
    }

    private struct Timer: KernelConsumer {
        let matrix: VectorMatrix
        let seconds: Double

        func run<Kernel: DistanceKernel>(_ kernel: Kernel.Type) -> (Double, Double) {
            var sink: Float = 0
            var calls = 0
            let clock = ContinuousClock()
            let start = clock.now
            let budget = Duration.milliseconds(Int(seconds * 1000))
            let query = matrix.row(0)
            while clock.now - start < budget {
                for r in 0..<matrix.count {
                    sink += Kernel.distance(query, matrix.uncheckedRow(r), dimension: matrix.dimension)
                }
                calls += matrix.count
            }
            let elapsed = clock.now - start
            let ns = (Double(elapsed.components.seconds) * 1e9 + Double(elapsed.components.attoseconds) * 1e-9) / Double(calls)
            if sink == .greatestFiniteMagnitude { print(sink) }  // keep the loop alive
            return (ns, Double(matrix.rowBytes) / ns)
        }
    }
}
