// Package storetest is the contract suite that every store backend (memory, sqlite, redis,
// postgres) runs, so that all of them behave the same.
package storetest
