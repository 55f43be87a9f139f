# The Debian package of parleyd (CPack's DEB generator): the binary, the
# systemd unit, a default config (a conffile), the web app when it was
# built (clients/web/dist), and the docs. Built with
#   cmake --build --preset release --target package
# into build/release/parleyd_<version>_<arch>.deb; tests/package/test_deb.sh
# installs it into an empty root and starts the server as the unit does.
include(GNUInstallDirs)

install(TARGETS parleyd RUNTIME DESTINATION bin COMPONENT parleyd)
install(FILES ${CMAKE_SOURCE_DIR}/packaging/parleyd.service DESTINATION lib/systemd/system COMPONENT parleyd)
install(FILES ${CMAKE_SOURCE_DIR}/packaging/parleyd.conf DESTINATION /etc/parley COMPONENT parleyd)
install(DIRECTORY ${CMAKE_SOURCE_DIR}/clients/web/dist/ DESTINATION share/parley/web COMPONENT parleyd OPTIONAL)
install(FILES ${CMAKE_SOURCE_DIR}/README.md DESTINATION share/doc/parleyd COMPONENT parleyd)
install(DIRECTORY ${CMAKE_SOURCE_DIR}/docs/ DESTINATION share/doc/parleyd/docs COMPONENT parleyd
        PATTERN screenshots EXCLUDE)

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME parleyd)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_PACKAGE_CONTACT "Parley developers <parley@localhost>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "Parley chat server: 1:1, groups, channels, presence, push, search")
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION net)
# The shared libraries' packages (RocksDB, Boost, OpenSSL, …), as
# dpkg-shlibdeps finds them from the binary; adduser for the postinst.
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "adduser")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    ${CMAKE_SOURCE_DIR}/packaging/postinst ${CMAKE_SOURCE_DIR}/packaging/prerm ${CMAKE_SOURCE_DIR}/packaging/postrm
    ${CMAKE_SOURCE_DIR}/packaging/conffiles)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
set(CPACK_STRIP_FILES ON)  # the debug information stays in the build tree
include(CPack)
