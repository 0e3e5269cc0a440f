package mail_test

import netmail "net/mail"

func parseAddressList(s string) ([]*netmail.Address, error) {
	return new(netmail.AddressParser).ParseList(s)
}
