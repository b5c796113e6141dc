// Package ring maps keys to members by consistent hashing.
package ring
