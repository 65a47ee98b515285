import { REPOSITORY_ROLES, type RepositoryRole } from '@kiln/persistence';
import {
  IsBoolean,
  IsIn,
  IsOptional,
  IsString,
  Matches,
  MaxLength,
  MinLength,
} from 'class-validator';

const USERNAME = /^[a-z0-9][a-z0-9._-]{0,62}$/;

export class LoginDto {
  @IsString()
  @MaxLength(63)
  username!: string;

  @IsString()
  @MaxLength(1024)
  password!: string;
}

export class CreateUserDto {
  @Matches(USERNAME, {
    message: 'username must be 1-63 of a-z 0-9 . _ -, starting with a letter or digit',
  })
  username!: string;

  @IsString()
  @MinLength(12, { message: 'password must be at least 12 characters' })
  @MaxLength(1024)
  password!: string;

  @IsOptional()
  @IsBoolean()
  admin?: boolean;
}

export class CreateTokenDto {
  @IsString()
  @MinLength(1)
  @MaxLength(100)
  name!: string;
}

export class SetRoleDto {
  @IsIn(REPOSITORY_ROLES, { message: `role must be one of ${REPOSITORY_ROLES.join(', ')}` })
  role!: RepositoryRole;
}
