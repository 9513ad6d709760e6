/// Facts about this build of Swann.
public enum SwannVersion {
    /// The release version, printed by `swann --version`.
    public static let current = "0.2.0"
    /// The on-disk index format version this build writes and reads.
    public static let indexFormat = 1
}
