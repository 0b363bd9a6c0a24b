package vmdev

import (
	"sync"
	"syscall"
)

// vmcp ioctl numbers (s390 _IOC layout: dir<<30 | size<<16 | type<<8 | nr).
const (
	VMCPGetCode uint32 = 0x80041001 // _IOR(0x10, 1, int)
	VMCPSetBuf  uint32 = 0x40041002 // _IOW(0x10, 2, int)
	VMCPGetSize uint32 = 0x80041003 // _IOR(0x10, 3, int)
)

// Limits of the vmcp driver.
const (
	VMCPMaxCmd      = 240     // longest command accepted by write
	VMCPDefaultBuf  = 4096    // bufsize of a new session (PAGE_SIZE)
	VMCPMaxBuf      = 1 << 20 // largest SETBUF size (order 8)
	vmcpPageSize    = 4096
	vmcpMaxBufOrder = 8
)

// Executor runs a CP command for a user; *cp.CP implements it.
type Executor interface {
	Exec(userID, cmd string) (response []byte, rc int)
}

// VMCP is one open /dev/vmcp file: a session with its own response buffer.
type VMCP struct {
	cp   Executor
	user string

	mu       sync.Mutex
	bufsize  int
	resp     []byte // nil: no response
	respSize int
	code     int
	pos      int64
}

// OpenVMCP opens a session for userID. Without CAP_SYS_ADMIN (admin false)
// it fails with EPERM.
func OpenVMCP(cp Executor, userID string, admin bool) (*VMCP, error) {
	if !admin {
		return nil, syscall.EPERM
	}
	return &VMCP{cp: cp, user: userID, bufsize: VMCPDefaultBuf}, nil
}

// Write issues cmd to CP. Longer than 240 bytes gives EINVAL. The response
// is stored truncated to bufsize, its full length kept for GETSIZE, and the
// read position reset to 0.
func (v *VMCP) Write(cmd []byte) (int, error) {
	if len(cmd) > VMCPMaxCmd {
		return 0, syscall.EINVAL
	}
	resp, rc := v.cp.Exec(v.user, string(cmd))
	v.mu.Lock()
	defer v.mu.Unlock()
	v.respSize = len(resp)
	v.resp = make([]byte, min(len(resp), v.bufsize))
	copy(v.resp, resp)
	v.code = rc
	v.pos = 0
	return len(cmd), nil
}

// Read copies the response from offset off (pread semantics); 0 bytes at
// or past the end, or when there is no response.
func (v *VMCP) Read(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, syscall.EINVAL
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.readLocked(p, off), nil
}

// ReadStream reads from the session's own position, which Write resets to
// 0 (the kernel's file position semantics for a FOPEN_STREAM node).
func (v *VMCP) ReadStream(p []byte) (int, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	n := v.readLocked(p, v.pos)
	v.pos += int64(n)
	return n, nil
}

func (v *VMCP) readLocked(p []byte, off int64) int {
	if v.resp == nil || off >= int64(len(v.resp)) {
		return 0
	}
	return copy(p, v.resp[off:])
}

// Ioctl implements VMCP_GETCODE, VMCP_SETBUF and VMCP_GETSIZE; arg points
// to the int argument (nil gives EFAULT). Other commands give ENOTTY.
func (v *VMCP) Ioctl(cmd uint32, arg *int32) error {
	v.mu.Lock()
	defer v.mu.Unlock()
	switch cmd {
	case VMCPGetCode, VMCPGetSize, VMCPSetBuf:
	default:
		return syscall.ENOTTY
	}
	if arg == nil {
		if cmd == VMCPSetBuf {
			v.resp = nil
			v.bufsize = VMCPDefaultBuf
		}
		return syscall.EFAULT
	}
	switch cmd {
	case VMCPGetCode:
		*arg = int32(v.code)
	case VMCPGetSize:
		*arg = int32(v.respSize)
	case VMCPSetBuf:
		v.resp = nil // the kernel frees the response; resp_size is kept
		n := int(*arg)
		if n <= 0 || getOrder(n) > vmcpMaxBufOrder {
			v.bufsize = VMCPDefaultBuf
			return syscall.EINVAL
		}
		v.bufsize = n
	}
	return nil
}

// getOrder is the kernel's get_order: log2 of the page count, rounded up.
func getOrder(size int) int {
	pages := (size + vmcpPageSize - 1) / vmcpPageSize
	order := 0
	for 1<<order < pages {
		order++
	}
	return order
}

// Close ends the session.
func (v *VMCP) Close() error { return nil }

// BufSize returns the session's response buffer size.
func (v *VMCP) BufSize() int {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.bufsize
}
