package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/pflag"

	"github.com/gatehouse-auth/gatehouse"
)

// A new password never comes from the command line itself, where the process list, the shell
// history and audit logs of the machine would keep it: it comes from the first line of
// standard input (--password-stdin), of a file (--password-file, such as a mounted secret), a
// prompt on the terminal (typed twice, not echoed), or is generated and printed once
// (--generate-password).

// passwordSource says where a command reads a new password.
type passwordSource struct {
	stdin    bool
	file     string
	generate bool
}

func (p *passwordSource) flags(fs *pflag.FlagSet) {
	fs.BoolVar(&p.stdin, "password-stdin", false, "read the new password from the first line of standard input")
	fs.StringVar(&p.file, "password-file", "", "read the new password from the first line of this file")
	fs.BoolVar(&p.generate, "generate-password", false, "generate a random password and print it once")
}

// maxPasswordLine bounds what is read for a password.
const maxPasswordLine = 4096

// read returns the new password and whether it was generated. Without a source flag it
// prompts on the terminal, twice; stdin that is not a terminal is an error naming the flags.
func (p *passwordSource) read(stdin io.Reader, prompt io.Writer) (pw string, generated bool, err error) {
	n := 0
	for _, set := range []bool{p.stdin, p.file != "", p.generate} {
		if set {
			n++
		}
	}
	switch {
	case n > 1:
		return "", false, errors.New("choose one of --password-stdin, --password-file and --generate-password")
	case p.generate:
		return gatehouse.NewSecret()[:24], true, nil
	case p.stdin:
		pw, err = firstLine(stdin)
	case p.file != "":
		var f *os.File
		if f, err = os.Open(p.file); err != nil {
			return "", false, fmt.Errorf("--password-file: %w", err)
		}
		defer f.Close()
		pw, err = firstLine(f)
	default:
		pw, err = promptTwice(stdin, prompt)
	}
	if err == nil && pw == "" {
		err = errors.New("the new password is empty")
	}
	return pw, false, err
}

// firstLine reads one line of r, without its line ending.
func firstLine(r io.Reader) (string, error) {
	line, err := bufio.NewReaderSize(io.LimitReader(r, maxPasswordLine), maxPasswordLine).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("reading the password: %w", err)
	}
	return strings.TrimRight(line, "\r\n"), nil
}

// promptTwice asks for the password twice on the terminal that stdin is, without echo.
func promptTwice(stdin io.Reader, prompt io.Writer) (string, error) {
	f, ok := stdin.(*os.File)
	if !ok || !isTerminal(f) {
		return "", errors.New("no password given: standard input is not a terminal to prompt on; use --password-stdin, --password-file or --generate-password")
	}
	var pw [2]string
	for i, q := range []string{"New password: ", "Same password again: "} {
		fmt.Fprint(prompt, q)
		line, err := readNoEcho(f)
		fmt.Fprintln(prompt)
		if err != nil {
			return "", err
		}
		pw[i] = line
	}
	if pw[0] != pw[1] {
		return "", errors.New("the two passwords differ; nothing changed")
	}
	return pw[0], nil
}
