/// The numeric kernels: every loop over parameters, rows or samples in Agora lives in an extension
/// of this namespace.
///
/// Shapes are checked at the public entry points (throwing `AgoraError` of kind `.shape`); the
/// inner loops assume them. Every kernel computes each output element from a fixed sequence of
/// operations, so results do not depend on the thread count.
public enum Kernels {}
