package payload

import "syscall"

const noFollow = syscall.O_NOFOLLOW
