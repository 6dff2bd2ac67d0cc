package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"golang.org/x/crypto/bcrypt"
)

// cmdHashPassword prints the bcrypt hash of a password read from stdin,
// for review.users[].password_hash. The password is read, not taken as
// an argument, so it stays out of the shell history and process list.
func cmdHashPassword(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("hash-password", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cost := fs.Int("cost", bcrypt.DefaultCost, "bcrypt cost (work factor)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: streetwatch hash-password [--cost N] < password-file")
		fmt.Fprintln(stderr, "  reads one line (the password) from stdin and prints its bcrypt hash for review.users[].password_hash;")
		fmt.Fprintf(stderr, "  interactively: read -rs P && printf '%%s' \"$P\" | streetwatch hash-password\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return usageError{err}
	}
	if fs.NArg() != 0 {
		fs.Usage()
		return usageError{errors.New("hash-password takes no arguments: the password is read from stdin")}
	}
	if *cost < bcrypt.MinCost || *cost > bcrypt.MaxCost {
		return usageError{fmt.Errorf("--cost must be between %d and %d", bcrypt.MinCost, bcrypt.MaxCost)}
	}
	line, err := bufio.NewReader(stdin).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("hash-password: read stdin: %w", err)
	}
	password := strings.TrimRight(line, "\r\n")
	if password == "" {
		return errors.New("hash-password: empty password on stdin")
	}
	if len(password) > 72 {
		return errors.New("hash-password: bcrypt uses at most 72 bytes of a password; choose a shorter one")
	}
	hash, err := bcrypt.GenerateFromPassword([]byte(password), *cost)
	if err != nil {
		return fmt.Errorf("hash-password: %w", err)
	}
	fmt.Fprintln(stdout, string(hash))
	return nil
}
