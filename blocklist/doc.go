// Package blocklist checks passwords against a list of common and breached passwords, as NIST
// SP 800-63B-4 asks of a verifier ("passwords obtained from previous breach corpuses",
// "dictionary words", "commonly-used passwords").
//
// The embedded list, common-passwords.txt, is the 30,000-entry "passwords" frequency list of
// zxcvbn 4.4.2 (Dropbox's password strength estimator, npm package zxcvbn, lib/frequency_lists.js;
// npm tarball sha256 0b3ebb60ec2df2340e1b8b70e4cb2657a3ceb192781d299310e7aceaa606cd22), which
// zxcvbn built from Mark Burnett's 10-million-password corpus of leaked passwords. It is
// distributed under the MIT licence, Copyright (c) 2012-2016 Dan Wheeler and Dropbox, Inc.; the
// licence text is in LICENSE-zxcvbn.txt beside this file. The list is kept as published: one
// lower-case password per line, most common first.
package blocklist
