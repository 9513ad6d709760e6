public import ArgumentParser
public import Swann

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

extension Metric: ExpressibleByArgument {
    /// Parses `l2`, `ip` (or `inner-product`) and `cosine`.
    public init?(argument: String) {
        switch argument.lowercased() {
        case "l2", "euclidean": self = .l2
        case "ip", "inner-product", "dot": self = .innerProduct
        case "cosine", "angular": self = .cosine
        default: return nil
        }
    }
    /// The spellings `--help` lists.
    public static var allValueStrings: [String] { ["l2", "ip", "cosine"] }
}

extension VectorFileFormat: ExpressibleByArgument {}
extension SearchParameters.ChecksumPolicy: ExpressibleByArgument {}
extension Index.IOMode: ExpressibleByArgument {}

/// Checks that a path names an existing file or directory.
func requireExisting(_ path: String, what: String) throws {
    guard access(path, F_OK) == 0 else {
        throw ValidationError("\(what) '\(path)' does not exist")
    }
}

/// Options shared by commands that take a thread count.
struct ThreadOptions: ParsableArguments {
    @Option(help: "Worker threads (default: every core).")
    var threads: Int?

    var resolved: Int { threads ?? Parallel.coreCount }

    func validate() throws {
        if let threads, threads < 1 { throw ValidationError("--threads must be at least 1, got \(threads)") }
    }
}
