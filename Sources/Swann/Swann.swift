/// Facts about this build of Swann.
public enum SwannVersion {
    /// The release version, printed by `swann --version`.
    public static let current = "0.2.0"
}
