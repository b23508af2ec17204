namespace Edge;

/// <summary>
/// A failure caused by what the user gave (a model, an image, a data set, a setting) whose message is
/// written for them: one line naming the file, key or field, and no command-line flag (the layers
/// below the tools do not know them). Both tools print it as it is; anything else is a bug.
/// </summary>
public abstract class EdgeException(string message, Exception? inner = null) : Exception(message, inner);
