! plain_hdf5.f90: an ordinary Fortran HDF5 program that knows nothing of the
! redislock driver. It uses the default file access property list, so HDF5
! picks the driver from the environment; run it with
!
!   HDF5_PLUGIN_PATH=<dir of libh5fd_redislock.so> HDF5_DRIVER=redislock
!   HDF5_DRIVER_CONFIG='url=unix:///run/redis.sock;timeout=30'
!
!   plain_hdf5_fortran FILE
!
! Creates (or overwrites) FILE with an integer array "squares", closes it,
! reopens it read-only and checks the array. Exits 1 on any failure; HDF5
! prints its error stack itself.
program plain_hdf5
  use hdf5
  implicit none
  integer, parameter :: n = 6
  character(len=4096) :: path
  integer(hid_t) :: file, space, dset
  integer(hsize_t) :: dims(1) = [n]
  integer :: written(n), got(n), i, err

  if (command_argument_count() /= 1) then
    write (0, '(a)') 'usage: plain_hdf5_fortran FILE'
    stop 2
  end if
  call get_command_argument(1, path)
  written = [(i * i, i = 1, n)]
  got = -1

  call h5open_f(err)
  call check(err, 'h5open_f')

  ! Write: an exclusive lock from h5fcreate_f to h5fclose_f.
  call h5fcreate_f(trim(path), H5F_ACC_TRUNC_F, file, err)
  call check(err, 'cannot create '//trim(path))
  call h5screate_simple_f(1, dims, space, err)
  call check(err, 'h5screate_simple_f')
  call h5dcreate_f(file, 'squares', H5T_STD_I32LE, space, dset, err)
  call check(err, 'h5dcreate_f')
  call h5dwrite_f(dset, H5T_NATIVE_INTEGER, written, dims, err)
  call check(err, 'h5dwrite_f')
  call h5dclose_f(dset, err)
  call h5sclose_f(space, err)
  call h5fclose_f(file, err)
  call check(err, 'cannot close '//trim(path)//' after writing')

  ! Read: a shared lock.
  call h5fopen_f(trim(path), H5F_ACC_RDONLY_F, file, err)
  call check(err, 'cannot open '//trim(path)//' read-only')
  call h5dopen_f(file, 'squares', dset, err)
  call check(err, 'h5dopen_f')
  call h5dread_f(dset, H5T_NATIVE_INTEGER, got, dims, err)
  call check(err, 'h5dread_f')
  call h5dclose_f(dset, err)
  call h5fclose_f(file, err)
  call check(err, 'cannot close '//trim(path)//' after reading')
  call h5close_f(err)

  if (any(got /= written)) then
    write (0, '(a)') 'plain_hdf5_fortran: read back other numbers than were written'
    stop 1
  end if
  write (*, '(a, *(1x, i0))') 'plain_hdf5_fortran: wrote and read back', got

contains

  subroutine check(status, what)
    integer, intent(in) :: status
    character(len=*), intent(in) :: what
    if (status < 0) then
      write (0, '(a)') 'plain_hdf5_fortran: '//what//' failed'
      error stop 1
    end if
  end subroutine check

end program plain_hdf5
