namespace Svg2.Cuda.Interop;

/// <summary>A status code of the CUDA driver API (<c>CUresult</c>); only the codes this project reacts to are named.</summary>
public enum CudaResult
{
    /// <summary>The call succeeded.</summary>
    Success = 0,

    /// <summary>A value passed to the call is invalid.</summary>
    InvalidValue = 1,

    /// <summary>The device ran out of memory.</summary>
    OutOfMemory = 2,

    /// <summary>The driver has not been initialised.</summary>
    NotInitialized = 3,

    /// <summary>No CUDA device is present.</summary>
    NoDevice = 100,

    /// <summary>The device ordinal does not exist.</summary>
    InvalidDevice = 101,

    /// <summary>The module image is not valid for this device.</summary>
    InvalidImage = 200,

    /// <summary>An asynchronous operation has not completed yet.</summary>
    NotReady = 600,

    /// <summary>A kernel asked for more resources than the device has.</summary>
    LaunchOutOfResources = 701,
}
