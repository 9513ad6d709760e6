import ArgumentParser

struct BuildCommand: PendingCommand {
    static let configuration = CommandConfiguration(
        commandName: "build", abstract: "Build a SPANN index from a vector file.")
    static let landsWith = "the SPANN index builder is the next milestone"

    @Argument(help: "The vector file (.fvecs .bvecs .fbin .u8bin .i8bin .npy).")
    var vectors: String
    @Option(help: "The index directory to create.")
    var output: String
}

struct SearchCommand: PendingCommand {
    static let configuration = CommandConfiguration(
        commandName: "search", abstract: "Search an index with a file of queries.")
    static let landsWith = "search needs the SPANN index builder"

    @Argument(help: "The index directory.")
    var index: String
    @Option(help: "The query vectors.")
    var queries: String
    @Option(name: .short, help: "Neighbours per query.")
    var k: Int = 10
}

struct EvalCommand: PendingCommand {
    static let configuration = CommandConfiguration(
        commandName: "eval", abstract: "Measure recall, QPS and latency of an index against ground truth.")
    static let landsWith = "evaluation needs the SPANN index builder"

    @Argument(help: "The index directory.")
    var index: String
    @Option(help: "The query vectors.")
    var queries: String
    @Option(help: "Ground-truth neighbours (.ivecs .ibin .npy).")
    var truth: String
    @Option(name: .short, help: "Neighbours per query.")
    var k: Int = 10
}

struct ServeCommand: PendingCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve", abstract: "Serve an index over HTTP/JSON and binary TCP.")
    static let landsWith = "the query server follows the SPANN index"

    @Argument(help: "The index directory.")
    var index: String
    @Option(help: "Interface to bind.")
    var host = "127.0.0.1"
    @Option(help: "HTTP port.")
    var port = 8080
    @Option(help: "Binary TCP port.")
    var tcpPort = 8081
}
