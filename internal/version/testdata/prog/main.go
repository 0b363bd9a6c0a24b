// Command prog prints its version; the tests link it with and without -X.
package main

import (
	"fmt"

	"github.com/zguest/zguest/internal/version"
)

func main() { fmt.Println(version.String("prog")) }
