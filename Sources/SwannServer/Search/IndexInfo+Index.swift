public import Swann
public import SwannProtocol

extension IndexInfo {
    /// The description of an open index.
    public init(_ index: Index) {
        let manifest = index.manifest
        self.init(
            dimension: manifest.dimension,
            metric: manifest.metric,
            elementType: manifest.elementType,
            vectorCount: manifest.vectorCount,
            centroidCount: manifest.centroidCount,
            postingEntryCount: manifest.postingEntryCount,
            shard: manifest.shard,
            hasIDMap: manifest.hasIDMap,
            residentBytes: index.residentBytes,
            postingFileBytes: index.postingFileBytes,
            formatVersion: manifest.formatVersion,
            writer: manifest.writer,
            build: manifest.build,
            searchDefaults: manifest.searchDefaults
        )
    }
}
