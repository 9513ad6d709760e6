import ArgumentParser
import Swann

/// Dataset and benchmark tools that are not part of the product CLI.
@main
struct SwannTools: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "swann-tools",
        abstract: "Swann's dataset and benchmark tools.",
        subcommands: [KernelBenchmark.self, ExactScanBenchmark.self, SyntheticData.self, LoadGenerator.self, WriteLoad.self, ReplayBenchmark.self]
    )
}
