// Package smapi speaks the z/VM Systems Management API (SMAPI) socket
// protocol: the request frame (big-endian int32 total length, then the
// length-prefixed function name, authenticated userid, password and
// target identifier, then the function's parameters, positional or
// NUL-terminated key=value strings), and the reply (an int32 request id
// sent at once, then an int32 output length followed by request id,
// return code, reason code and the function's output data). One request
// travels per TCP connection.
//
// Client issues calls with per-call connections, a timeout, retries of
// transport failures that happen before the server took the request, and
// retries with backoff while the image is locked (rc 400 rs 12), as the
// z/VM cloud connector does. The typed functions (ImageCreateDM,
// ImageDiskCreateDM, ...) build the parameter layouts of zthin's
// vmapi*.c. Passwords are never logged and never appear in errors.
//
// Layouts follow docs/facts/zvm-connector.md §4.2 and feilong's
// zthin-parts/zthin/src/vmapi*.c; the server side of the framing
// (ReadRequest, WriteResponse) serves the simulator in hostside/zvmsim.
package smapi
