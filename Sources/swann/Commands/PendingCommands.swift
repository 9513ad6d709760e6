import ArgumentParser

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
