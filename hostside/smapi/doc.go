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
// Layouts (docs/facts/zvm-connector.md §4.2) follow the z/VM cloud connector's C client, zthin
// (zthin-parts/zthin/src/vmapi*.c for the inputs, the parser tables in
// include/vmapi*.h read by smapiTableParser.c for the outputs), and the
// replies of a real z/VM recorded by pysmapi. Replies are read as zthin's
// table parser reads them: an output may end early (a single image's
// Image_Activate has no counts), arrays carry a total length and, where
// zthin's table says so, a length per structure. Image_Query_DM answers
// DirMaint's 80-byte card images, read by ParseDirectory. The server side
// of the framing (ReadRequest, EncodeOutput) serves the simulator in
// hostside/zvmsim.
package smapi
